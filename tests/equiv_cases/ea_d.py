"""External-Attention-pytorch modules (issue 14, part d): AFT_FULL, PSA,
WeightedPermuteMLP.

Batch > 1 in every row. AFT_FULL's token count must be its n; WeightedPermuteMLP takes
only seg_dim x seg_dim maps (mlp_h and mlp_w read H * dim / seg_dim features), so its rows
are square; PSA's are not.
"""
from equiv_cases import rand

_AFT = ("aft_full", "AFT_FULL", "aft:AFT_FULL")
_VIP = ("vip", "WeightedPermuteMLP", "vip:WeightedPermuteMLP")

CASES = [
    (*_AFT, (16,), {"n": 7}, rand(2, 7, 16)),
    (*_AFT, (8, 5), {"simple": True}, rand(3, 5, 8)),
    (*_AFT, (), {"d_model": 6, "n": 1}, rand(2, 1, 6)),
    ("psa", "PSA", "psa:PSA", (16, 2), {}, rand(2, 16, 5, 7)),
    ("psa", "PSA", "psa:PSA", (), {"channel": 12, "reduction": 1, "S": 3}, rand(3, 12, 4, 9)),
    ("psa", "PSA", "psa:PSA", (8, 4, 2), {}, rand(2, 8, 1, 6)),
    (*_VIP, (16, 4), {}, rand(2, 4, 4, 16)),
    (*_VIP, (12,), {"seg_dim": 3, "qkv_bias": True, "proj_drop": 0.1}, rand(3, 3, 3, 12)),
]
