"""External-Attention-pytorch modules (issue 14, part b): ShuffleAttention,
SpatialGroupEnhance, S2Attention (with its SplitAttention).

Every row is a non-square input with batch > 1. The harness perturbs every parameter
before comparing, so the zero-initialised gates (cweight, sweight, weight, bias) are
non-zero. None of these modules has a BatchNorm.
"""
from equiv_cases import rand

_SHUFFLE = ("shuffle_attention", "ShuffleAttention", "shuffle_attention:ShuffleAttention")
_SGE = ("sge", "SpatialGroupEnhance", "sge:SpatialGroupEnhance")
_S2 = ("s2_attention", "S2Attention", "s2_attention:S2Attention")

CASES = [
    (*_SHUFFLE, (), {}, rand(2, 512, 3, 5)),
    (*_SHUFFLE, (), {"channel": 32, "G": 4}, rand(3, 32, 5, 7)),
    (*_SHUFFLE, (24, 4, 1), {}, rand(2, 24, 6, 1)),
    (*_SGE, (4,), {}, rand(2, 16, 5, 7)),
    (*_SGE, (), {"groups": 3}, rand(3, 12, 1, 6)),
    (*_SGE, (1,), {}, rand(2, 5, 4, 3)),
    (*_S2, (), {}, rand(2, 512, 3, 5)),
    (*_S2, (16,), {}, rand(3, 16, 5, 7)),
    (*_S2, (), {"channels": 8}, rand(2, 8, 1, 4)),
]
COVERS = {"s2_split_attention"}
