"""GFNet (External-Attention-pytorch): GlobalFilter, a learned filter on the 2-D spectrum of
a square token map (an even side and an odd one: the half-spectrum's sizes differ), its MLP
and the block of both."""
from equiv_cases import rand

_GF = ("global_filter", "GlobalFilter", "gfnet:GlobalFilter")
_MLP = ("gfnet_mlp", "GFNetMlp", "gfnet:GFNetMlp")
_BLOCK = ("gfnet_block", "GFNetBlock", "gfnet:GFNetBlock")

CASES = [
    (*_GF, (8,), {}, rand(2, 196, 8)),  # h 14, w 8: the original's defaults
    (*_GF, (6,), {"h": 5, "w": 3}, rand(3, 25, 6)),
    (*_GF, (4,), {"h": 4, "w": 3}, rand(1, 16, 4)),
    (*_MLP, (6,), {}, rand(2, 5, 6)),
    (*_MLP, (6,), {"hidden_features": 10, "out_features": 4}, rand(3, 2, 6)),
    (*_BLOCK, (8,), {"h": 5, "w": 3}, rand(2, 25, 8)),
    (*_BLOCK, (6,), {"mlp_ratio": 2.5, "h": 4, "w": 3}, rand(2, 16, 6)),
]
