"""Scaled dot-product attention (full and simplified) and DANet.

Attention rows use nq != nk, and some pass attention_mask (bool, True = masked
out, never a whole row) and attention_weights.
"""
import torch

from equiv_cases import rand


def _qkv(b, nq, nk, d_model, h=None, mask=False, weights=False):
    """queries (b, nq, d), keys and values (b, nk, d), then mask / weights over (b, h, nq, nk)."""
    def make():
        out = [torch.randn(b, nq, d_model), torch.randn(b, nk, d_model),
               torch.randn(b, nk, d_model)]
        if mask or weights:
            masked = torch.rand(b, h, nq, nk) < 0.3
            masked[..., 0] = False  # every query keeps at least one key
            out.append(masked if mask else None)
        if weights:
            out.append(0.5 + torch.rand(b, h, nq, nk))
        return tuple(out)
    return make


_SDPA = ("sdpa", "ScaledDotProductAttention", "attention:ScaledDotProductAttention")
_SIMPLE = ("simplified_sdpa", "SimplifiedScaledDotProductAttention",
           "attention:SimplifiedScaledDotProductAttention")

CASES = [
    (*_SDPA, (32, 8, 12, 4), {}, _qkv(2, 5, 7, 32)),
    (*_SDPA, (24, 6, 6, 3), {"dropout": 0.2}, _qkv(3, 4, 9, 24, h=3, mask=True)),
    (*_SDPA, (16, 16, 16, 1), {}, _qkv(2, 6, 3, 16, h=1, mask=True, weights=True)),
    (*_SDPA, (20, 5, 7, 2), {}, _qkv(2, 3, 8, 20, h=2, weights=True)),
    (*_SIMPLE, (24, 4), {}, _qkv(2, 5, 7, 24)),
    (*_SIMPLE, (18,), {"h": 3, "dropout": 0.3}, _qkv(3, 6, 4, 18, h=3, mask=True)),
    (*_SIMPLE, (49, 1), {}, _qkv(2, 8, 5, 49, h=1, mask=True, weights=True)),
    (*_SIMPLE, (12, 2), {}, _qkv(2, 7, 3, 12, h=2, weights=True)),
]
_DA = ("danet", "DAModule", "danet:DAModule")
_PAM = ("danet", "PositionAttentionModule", "danet:PositionAttentionModule")
_CAM = ("danet", "ChannelAttentionModule", "danet:ChannelAttentionModule")

CASES += [
    (*_DA, (), {}, rand(2, 512, 7, 7)),  # the notes' defaults
    (*_DA, (16, 3, 5, 3), {}, rand(2, 16, 5, 3)),
    (*_DA, (), {"d_model": 8, "kernel_size": 5, "H": 4, "W": 6}, rand(3, 8, 4, 6)),
    (*_PAM, (16, 3, 5, 3), {}, rand(2, 16, 5, 3)),
    (*_PAM, (), {"d_model": 12, "kernel_size": 1, "H": 3, "W": 4}, rand(3, 12, 3, 4)),
    (*_CAM, (16, 3, 5, 3), {}, rand(2, 16, 5, 3)),
    (*_CAM, (), {"d_model": 12, "kernel_size": 5, "H": 3, "W": 4}, rand(3, 12, 3, 4)),
]
COVERS = {"position_attention", "channel_attention_module"}
