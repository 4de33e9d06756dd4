"""Shuffle attention (reference, External-Attention-pytorch's ShuffleAttention).

Grouping and the channel shuffle are written as the original writes them, with views of a
contiguous tensor (so, as there, a channels_last input fails).
"""
import torch
from torch import nn


class ShuffleAttention(nn.Module):
    """(B, C, H, W) -> same. C is split into G groups of two halves: a per-channel gate on
    the first, a per-position gate on the second; then a channel shuffle of two groups."""

    def __init__(self, channel=512, reduction=16, G=8):
        super().__init__()
        self.G = G
        half = channel // (2 * G)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.gn = nn.GroupNorm(half, half)  # one channel per group: each map normalised
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        b, c, h, w = x.shape
        grouped = x.view(b * self.G, c // self.G, h, w)
        first, second = grouped.chunk(2, dim=1)  # unequal halves for an odd c // G, as there
        by_channel = first * self.sigmoid(self.cweight * self.avg_pool(first) + self.cbias)
        by_position = second * self.sigmoid(self.sweight * self.gn(second) + self.sbias)
        out = torch.cat([by_channel, by_position], dim=1).view(b, c, h, w)
        # channel shuffle: channel i of the first half goes to 2i, of the second to 2i + 1
        return out.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
