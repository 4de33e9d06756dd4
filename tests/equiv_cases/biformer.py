"""BiFormer's bi-level routing attention (its NCHW version): the default 7 x 7 regions
and others, one head and several, regions of one token, a scale given, no LCE (the
original adds zeros), every region routed to every region."""
from equiv_cases import rand

_BRA = ("bi_level_routing_attention", "BiLevelRoutingAttention",
        "biformer:BiLevelRoutingAttention")

CASES = [
    (*_BRA, (16,), {}, rand(2, 16, 14, 14)),
    (*_BRA, (8, 2, 2), {"topk": 3}, rand(3, 8, 6, 4)),
    (*_BRA, (12, 3, 3, 0.2, 2), {"side_dwconv": 5}, rand(2, 12, 9, 6)),
    (*_BRA, (4, 1, 2), {"topk": 1, "side_dwconv": 0}, rand(2, 4, 2, 2)),
    (*_BRA, (8, 4, 2), {"topk": 4}, rand(1, 8, 4, 8)),
]
