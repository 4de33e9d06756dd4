"""CBAM: channel gate followed by spatial gate (reference)."""
import torch
from torch import nn


class ChannelAttention(nn.Module):
    """Shared 1x1-conv MLP over avg- and max-pooled descriptors; returns the
    (B, C, 1, 1) sigmoid gate, not the gated input."""

    def __init__(self, in_planes, ratio=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc1 = nn.Conv2d(in_planes, in_planes // ratio, 1, bias=False)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Conv2d(in_planes // ratio, in_planes, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def _mlp(self, t):
        return self.fc2(self.relu1(self.fc1(t)))

    def forward(self, x):
        avg_branch = self._mlp(self.avg_pool(x))
        max_branch = self._mlp(self.max_pool(x))
        return self.sigmoid(avg_branch + max_branch)


class SpatialAttention(nn.Module):
    """Conv over [channel-mean, channel-max] maps; returns the (B, 1, H, W) gate."""

    def __init__(self, kernel_size=7):
        super().__init__()
        if kernel_size not in (3, 7):
            raise ValueError(f"kernel size must be 3 or 7, got {kernel_size!r}")
        padding = 3 if kernel_size == 7 else 1
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=padding, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        mean_map = torch.mean(x, dim=1, keepdim=True)
        max_map = torch.max(x, dim=1, keepdim=True)[0]
        stacked = torch.cat([mean_map, max_map], dim=1)  # (B, 2, H, W)
        return self.sigmoid(self.conv1(stacked))


class CBAM(nn.Module):
    """Sequential channel then spatial refinement. (B, C, H, W) -> same."""

    def __init__(self, in_planes, ratio=16, kernel_size=7):
        super().__init__()
        self.ca = ChannelAttention(in_planes, ratio)
        self.sa = SpatialAttention(kernel_size)

    def forward(self, x):
        refined = x * self.ca(x)
        return refined * self.sa(refined)
