"""A per-group affine gate with a zero-init residual scale (reference): the learnable
tensors of ShuffleAttention and SGE (per-group `weight`/`bias` of shape [1, C // (2G), 1, 1])
and the `gamma` gate of DANet and CrissCross attention, written by hand."""
import torch
from torch import nn


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
