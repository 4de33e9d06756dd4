"""PVT's spatial-reduction attention, forward(x, H, W): no reduction (keys from every
token), reductions of 2 and 3 on non-square maps (7 x 5 floors to 3 x 2 and 2 x 1), one
head and several, biases and a given scale."""
import torch

_SRA = ("pvt_attention", "SpatialReductionAttention", "pvt:SpatialReductionAttention")


def tokens(b, h, w, dim):
    """An inputs factory: the tokens of an h x w map, then h and w."""
    return lambda: (torch.randn(b, h * w, dim), h, w)


CASES = [
    (*_SRA, (32,), {"num_heads": 4}, tokens(2, 3, 5, 32)),
    (*_SRA, (32,), {"num_heads": 2, "sr_ratio": 2, "qkv_bias": True}, tokens(2, 6, 4, 32)),
    (*_SRA, (24,), {"num_heads": 3, "sr_ratio": 3, "qk_scale": 0.3}, tokens(3, 7, 5, 24)),
    (*_SRA, (16,), {"num_heads": 1, "sr_ratio": 2}, tokens(1, 7, 5, 16)),
]
