"""Spatial group-wise enhance (reference, External-Attention-pytorch's SpatialGroupEnhance).

As in the original: views of a contiguous input (a channels_last one fails), and the
standard deviation over the map divides by H * W - 1 (NaN on a 1x1 map).
"""
import torch
from torch import nn


class SpatialGroupEnhance(nn.Module):
    """(B, C, H, W) -> same; each group's features gated per position by the normalised
    similarity of that position to the group's mean feature."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.sig = nn.Sigmoid()

    def forward(self, x):
        b, c, h, w = x.shape
        grouped = x.view(b * self.groups, c // self.groups, h, w)
        similarity = (grouped * self.avg_pool(grouped)).sum(dim=1)  # (B*g, H, W)
        mean = similarity.mean(dim=(1, 2), keepdim=True)
        std = similarity.std(dim=(1, 2), keepdim=True)  # over H * W - 1
        normed = ((similarity - mean) / (std + 1e-5)).view(b, self.groups, h, w)
        gate = self.sig(normed * self.weight + self.bias).view(b * self.groups, 1, h, w)
        return (grouped * gate).view(b, c, h, w)
