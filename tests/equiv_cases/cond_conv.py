"""CondConv and DynamicConv, per-sample mixtures of expert kernels: their defaults, no
bias, groups, dilation with its matching padding, one expert, a single sample, non-square
maps; DynamicConv at another temperature and bottleneck."""
from equiv_cases import rand

_COND = ("cond_conv", "CondConv", "cond_conv:CondConv")
_DYNAMIC = ("dynamic_conv", "DynamicConv", "cond_conv:DynamicConv")

CASES = [
    (*_COND, (8, 12, 3, 1, 1), {}, rand(2, 8, 6, 5)),
    (*_COND, (8, 6, 3, 1, 1), {"bias": False, "K": 3}, rand(3, 8, 5, 5)),
    (*_COND, (8, 12, 3, 1, 2, 2), {"groups": 4}, rand(2, 8, 7, 6)),
    (*_COND, (4, 4, 1, 1), {"K": 1}, rand(1, 4, 3, 9)),
    (*_DYNAMIC, (8, 12, 3, 1, 1), {}, rand(2, 8, 6, 5)),
    (*_DYNAMIC, (16, 8, 5, 1, 2), {"bias": False, "temperature": 1, "ratio": 8},
     rand(3, 16, 5, 7)),
    (*_DYNAMIC, (8, 8, 3, 1, 1, 1, 2), {"K": 2, "temperature": 0.5}, rand(2, 8, 4, 4)),
]

COVERS = {"cond_conv_routing", "dynamic_conv_routing"}
