"""GlobalFilter (External-Attention-pytorch's GFNet): a learned filter on the 2-D spectrum
of a square token map; an even side and an odd one (the half-spectrum's sizes differ)."""
from equiv_cases import rand

_GF = ("global_filter", "GlobalFilter", "gfnet:GlobalFilter")

CASES = [
    (*_GF, (8,), {}, rand(2, 196, 8)),  # h 14, w 8: the original's defaults
    (*_GF, (6,), {"h": 5, "w": 3}, rand(3, 25, 6)),
    (*_GF, (4,), {"h": 4, "w": 3}, rand(1, 16, 4)),
]
