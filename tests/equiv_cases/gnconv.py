"""HorNet's gnConv: the default order 5, orders 1 (no recursion) to 3, a scale, the
smallest channels an order allows, non-square maps."""
from equiv_cases import rand

_GN = ("gnconv", "GnConv", "gnconv:gnconv")

CASES = [
    (*_GN, (64,), {}, rand(2, 64, 6, 5)),
    (*_GN, (8,), {"order": 1}, rand(2, 8, 4, 4)),
    (*_GN, (16,), {"order": 3, "s": 1.0 / 3.0}, rand(3, 16, 5, 7)),
    (*_GN, (4,), {"order": 3}, rand(1, 4, 3, 9)),
]
