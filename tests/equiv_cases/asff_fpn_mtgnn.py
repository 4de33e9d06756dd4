import torch

from equiv_cases import rand


def pyramid(batch, channels, h, w):
    """An inputs factory: one list of maps, small-to-large channels, each half the size of
    the one before it (the last is (batch, channels[-1], h, w))."""
    n = len(channels)
    return lambda: ([torch.randn(batch, c, h * 2 ** (n - 1 - i), w * 2 ** (n - 1 - i))
                     for i, c in enumerate(channels)],)


M = 1 / 16  # multiplier: 64, 32, 16 channels keep the rows fast
ASFF_IN = pyramid(2, [16, 32, 64], 3, 5)
CASES = [
    ("asff", "ASFF", "asff:ASFF", (0,), {"multiplier": M}, ASFF_IN),
    ("asff", "ASFF", "asff:ASFF", (1,), {"multiplier": M}, ASFF_IN),
    ("asff", "ASFF", "asff:ASFF", (2,), {"multiplier": M}, ASFF_IN),
    ("asff", "ASFF", "asff:ASFF", (0,), {"multiplier": M, "rfb": True, "vis": True}, ASFF_IN),
    (
        "asff",
        "ASFF",
        "asff:ASFF",
        (1,),
        {"multiplier": M, "vis": True},
        pyramid(3, [16, 32, 64], 4, 2),
    ),
    (
        "asff",
        "ASFF",
        "asff:ASFF",
        (2,),
        {"multiplier": 1 / 32, "rfb": True, "vis": True},
        pyramid(2, [8, 16, 32], 2, 3),
    ),
    ("asff", "Conv", "asff:Conv", (8, 12), {}, rand(2, 8, 5, 7)),
    ("asff", "Conv", "asff:Conv", (8, 12, 3, 2), {"g": 4, "act": False}, rand(3, 8, 7, 6)),
    ("asff", "Conv", "asff:Conv", (6, 4, 3), {"p": 0}, rand(2, 6, 5, 9)),
]
COVERS = {"conv_bn_silu"}

CASES += [
    ("fpn", "PyramidFeatures", "fpn:PyramidFeatures", (8, 12, 16), {"feature_size": 24},
     pyramid(2, [8, 12, 16], 3, 5)),
    ("fpn", "PyramidFeatures", "fpn:PyramidFeatures", (6, 10, 14), {"feature_size": 16},
     pyramid(3, [6, 10, 14], 4, 3)),
]

CASES += [
    ("mtgnn", "TemporalConv", "mtgnn:TemporalConv", (), {"cin": 8, "cout": 8,
     "dilation_factor": 1, "seq_len": 12}, rand(2, 8, 3, 12)),
    ("mtgnn", "TemporalConv", "mtgnn:TemporalConv", (6, 10, 2, 19), {}, rand(3, 6, 5, 19)),
    ("mtgnn", "temporal_conv", "mtgnn:temporal_conv", (4, 12, 1, 9), {}, rand(2, 4, 2, 9)),
    ("mtgnn", "DilatedInception", "mtgnn:DilatedInception", (8, 16, 1, 10), {}, rand(2, 8, 3, 10)),
    ("mtgnn", "DilatedInception", "mtgnn:DilatedInception", (3, 4, 2, 13), {},
     rand(3, 3, 2, 13)),
    # the notes' lower-case names import from the generated file too
    ("mtgnn", "temporal_conv", "mtgnn:temporal_conv", (3, 5, 2, 14), {}, rand(2, 3, 3, 14)),
    ("mtgnn", "dilated_inception", "mtgnn:dilated_inception", (5, 6, 3, 20), {},
     rand(2, 5, 4, 20)),
    ("mtgnn", "dilated_inception", "mtgnn:dilated_inception", (4, 8, 1, 8), {},
     rand(3, 4, 1, 8)),
]
COVERS |= {"dilated_inception"}
