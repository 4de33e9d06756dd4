"""Learnable tensors, written by hand (reference): a per-group affine gate with a zero-init
residual scale (the per-group `weight`/`bias` of ShuffleAttention and SGE, shape
[1, C // (2G), 1, 1]), and DANet's position attention with the residual gate of the
paper's own code (`gamma * out + x`, gamma zero at init)."""
import torch
from torch import nn

from .danet import PositionAttentionModule


class GroupGate(nn.Module):
    """x (B, C, H, W) in 2G groups of C // (2G) channels, each gated by
    sigmoid(weight * x + bias); the result scaled by gamma and added to x."""

    def __init__(self, channel=64, G=4):
        super().__init__()
        self.G = G
        self.gamma = nn.Parameter(torch.zeros(1))
        self.weight = nn.Parameter(torch.ones(1, channel // (2 * G), 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channel // (2 * G), 1, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        groups = x.reshape(b * 2 * self.G, c // (2 * self.G), h, w)
        gated = groups * torch.sigmoid(groups * self.weight + self.bias)
        return self.gamma * gated.reshape(b, c, h, w) + x


class GatedPositionAttention(PositionAttentionModule):
    """Position attention, its (B, H*W, C) result folded back to (B, C, H, W), scaled by a
    learnable scalar and added to the input."""

    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__(d_model, kernel_size, H, W)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        attended = super().forward(x).permute(0, 2, 1).reshape(b, c, h, w)
        return self.gamma * attended + x
