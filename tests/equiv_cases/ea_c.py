"""External-Attention-pytorch modules (issue 14, part c): CrissCrossAttention, UFOAttention,
OutlookAttention.

Every row is a non-square input with batch > 1; the harness perturbs every parameter, so
CrissCross's zero-initialised gate gamma is non-zero when the outputs are compared.
"""
import torch

from equiv_cases import rand

_CC = ("criss_cross", "CrissCrossAttention", "criss_cross:CrissCrossAttention")
_UFO = ("ufo_attention", "UFOAttention", "ufo:UFOAttention")
_OUTLOOK = ("outlook_attention", "OutlookAttention", "outlook:OutlookAttention")


def _tokens(b, nq, nk, d_model):
    """queries (b, nq, d_model), keys and values (b, nk, d_model)."""
    return lambda: (torch.randn(b, nq, d_model), torch.randn(b, nk, d_model),
                    torch.randn(b, nk, d_model))


CASES = [
    (*_CC, (16,), {}, rand(2, 16, 5, 7)),
    (*_CC, (), {"in_dim": 24}, rand(3, 24, 1, 4)),
    (*_CC, (8,), {}, rand(2, 8, 6, 3)),
    (*_UFO, (16, 8, 6, 4), {}, _tokens(2, 5, 3, 16)),
    (*_UFO, (), {"d_model": 12, "d_k": 5, "d_v": 7, "h": 1, "dropout": 0.3},
     _tokens(3, 1, 4, 12)),
    (*_OUTLOOK, (16,), {}, rand(2, 5, 7, 16)),
    (*_OUTLOOK, (24, 3, 5, 2, 2), {"qkv_bias": True}, rand(3, 7, 4, 24)),
    (*_OUTLOOK, (8,), {"num_heads": 2, "kernel_size": 1, "padding": 0, "stride": 3},
     rand(2, 7, 5, 8)),
]
