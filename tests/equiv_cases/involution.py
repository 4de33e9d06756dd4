"""Involution, a kernel per output pixel: the defaults, stride 2 and 3, groups, kernel 5,
a ratio that leaves one channel in the bottleneck, non-square maps."""
from equiv_cases import rand

_INV = ("involution", "Involution", "involution:Involution")

CASES = [
    (*_INV, (3,), {}, rand(2, 4, 6, 5)),
    (*_INV, (3, 8, 2), {"group": 2}, rand(2, 8, 6, 8)),
    (*_INV, (5, 12, 3, 4), {"ratio": 3}, rand(3, 12, 9, 6)),
    (*_INV, (3, 16), {"group": 16, "ratio": 16}, rand(1, 16, 4, 7)),
]
