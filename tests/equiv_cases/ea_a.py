"""External-Attention-pytorch modules (issue 14, part a): SimAM, ExternalAttention,
ParNetAttention, ResidualAttention,
MobileViTv2Attention, DoubleAttention, Parallel- and SequentialPolarizedSelfAttention,
BAMBlock.

Every row is a non-square input (where the module takes one) with batch > 1.
"""
from equiv_cases import rand

_PARALLEL = ("parallel_polarized_self_attention", "ParallelPolarizedSelfAttention",
             "polarized:ParallelPolarizedSelfAttention")
_SEQUENTIAL = ("sequential_polarized_self_attention", "SequentialPolarizedSelfAttention",
               "polarized:SequentialPolarizedSelfAttention")

CASES = [
    ("simam", "SimAM", "simam:SimAM", (), {}, rand(2, 8, 5, 7)),
    ("simam", "SimAM", "simam:SimAM", (16,), {"e_lambda": 0.5}, rand(3, 16, 1, 6)),
    ("external_attention", "ExternalAttention", "external_attention:ExternalAttention",
     (24,), {}, rand(2, 7, 24)),
    ("external_attention", "ExternalAttention", "external_attention:ExternalAttention",
     (), {"d_model": 16, "S": 5}, rand(3, 4, 16)),
    ("parnet_attention", "ParNetAttention", "parnet:ParNetAttention", (), {"channel": 8},
     rand(2, 8, 5, 7)),
    ("parnet_attention", "ParNetAttention", "parnet:ParNetAttention", (12,), {},
     rand(3, 12, 1, 4)),
    ("residual_attention", "ResidualAttention", "residual_attention:ResidualAttention",
     (16, 10), {}, rand(2, 16, 5, 7)),
    ("residual_attention", "ResidualAttention", "residual_attention:ResidualAttention",
     (), {"channel": 8, "num_class": 3, "la": 1.5}, rand(3, 8, 3, 1)),
    ("mobilevitv2_attention", "MobileViTv2Attention", "mobilevitv2:MobileViTv2Attention",
     (16,), {}, rand(2, 7, 16)),
    ("mobilevitv2_attention", "MobileViTv2Attention", "mobilevitv2:MobileViTv2Attention",
     (), {"d_model": 5}, rand(3, 1, 5)),
    ("double_attention", "DoubleAttention", "double_attention:DoubleAttention",
     (16, 8, 4), {}, rand(2, 16, 5, 7)),
    ("double_attention", "DoubleAttention", "double_attention:DoubleAttention",
     (12, 6, 10), {"reconstruct": False}, rand(3, 12, 4, 3)),
    (*_PARALLEL, (), {"channel": 8}, rand(2, 8, 5, 7)),
    (*_PARALLEL, (7,), {}, rand(3, 7, 3, 1)),
    (*_SEQUENTIAL, (), {"channel": 8}, rand(2, 8, 5, 7)),
    (*_SEQUENTIAL, (5,), {}, rand(3, 5, 2, 6)),
    ("bam", "BAMBlock", "bam:BAMBlock", (), {"channel": 32, "reduction": 8}, rand(2, 32, 9, 6)),
    ("bam", "BAMBlock", "bam:BAMBlock", (24, 4, 1), {}, rand(3, 24, 5, 7)),
    ("bam", "BAMBlock", "bam:BAMBlock", (16, 16), {"dia_val": 3}, rand(2, 16, 4, 11)),
]
COVERS = {"bam_channel_attention", "bam_spatial_attention"}
