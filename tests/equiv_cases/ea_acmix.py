"""ACmix (External-Attention-pytorch): the defaults (window 7, 4 heads), a smaller window
with more heads, and stride 2 (both paths subsample), on non-square maps."""
from equiv_cases import rand

_ACMIX = ("acmix", "ACmix", "acmix:ACmix")

CASES = [
    (*_ACMIX, (8, 16), {}, rand(2, 8, 8, 10)),
    (*_ACMIX, (6, 12), {"kernel_att": 3, "head": 6}, rand(2, 6, 5, 7)),
    (*_ACMIX, (8, 8), {"kernel_att": 5, "head": 2, "stride": 2}, rand(1, 8, 6, 8)),
]
