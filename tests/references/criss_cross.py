"""Criss-cross attention (reference, External-Attention-pytorch's CrissCrossAttention).

Written as full attention over the H*W positions, masked to each position's cross (its
column and its row, itself once), instead of the two per-axis products the spec uses, so
the two agree only if both read the paper alike.

CrissCrossAttentionCpuMask behaves as the original does: its mask is a float tensor made
on the CPU in the default dtype at every call and added to the energies, so it fails on
another device or in another float dtype (tests/test_ea_differences.py).
"""
import torch
from torch import nn


def cross_mask(height, width, device=None):
    """(H*W, H*W) bool: True where position q may attend to position p (same row or
    column; a position is one entry of its own cross)."""
    rows = torch.arange(height, device=device).repeat_interleave(width)
    cols = torch.arange(width, device=device).repeat(height)
    return (rows[:, None] == rows[None, :]) | (cols[:, None] == cols[None, :])


class CrissCrossAttention(nn.Module):
    """(B, C, H, W) -> gamma * (attention over each position's cross) + x."""

    def __init__(self, in_dim):
        super().__init__()
        self.query_conv = nn.Conv2d(in_dim, in_dim // 8, kernel_size=1)
        self.key_conv = nn.Conv2d(in_dim, in_dim // 8, kernel_size=1)
        self.value_conv = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def masked_energy(self, energy, height, width):
        return energy.masked_fill(~cross_mask(height, width, energy.device), float("-inf"))

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.query_conv(x).flatten(2)  # (B, C // 8, HW)
        k = self.key_conv(x).flatten(2)
        v = self.value_conv(x).flatten(2)  # (B, C, HW)
        energy = self.masked_energy(q.transpose(1, 2) @ k, h, w)  # (B, HW, HW)
        weights = energy.softmax(dim=-1)
        context = (v @ weights.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * context + x


class CrissCrossAttentionCpuMask(CrissCrossAttention):
    """The original's masking: an additive mask, 0 on the cross and -inf off it, made as a
    new float tensor on the CPU (the default dtype) at every call."""

    def masked_energy(self, energy, height, width):
        allowed = cross_mask(height, width)
        return energy + torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
