"""Triplet attention: three rotated Z-pool gates (reference)."""
import torch
from torch import nn


class BasicConv(nn.Module):
    """Conv2d with optional BatchNorm and ReLU (``bn`` / ``relu`` are None when off)."""

    def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, relu=True, bn=True, bias=False):
        super().__init__()
        self.out_channels = out_planes
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride,
                              padding=padding, dilation=dilation, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01, affine=True) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class ZPool(nn.Module):
    """Concatenate the max and the mean over dim 1: (B, D, P, Q) -> (B, 2, P, Q)."""

    def forward(self, x):
        peak = torch.max(x, 1)[0].unsqueeze(1)
        avg = torch.mean(x, 1).unsqueeze(1)
        return torch.cat((peak, avg), dim=1)


class AttentionGate(nn.Module):
    """Z-pool -> 7x7 conv (2 -> 1) + BN, no ReLU -> sigmoid -> rescale input."""

    def __init__(self):
        super().__init__()
        kernel_size = 7
        self.compress = ZPool()
        self.conv = BasicConv(2, 1, kernel_size, stride=1, padding=(kernel_size - 1) // 2,
                              relu=False)

    def forward(self, x):
        scale = torch.sigmoid(self.conv(self.compress(x)))
        return x * scale


class TripletAttention(nn.Module):
    """Average of the C-W, H-C and (unless ``no_spatial``) H-W gated maps.

    (B, C, H, W) -> same. The ``hw`` gate exists only when no_spatial is False.
    """

    def __init__(self, no_spatial=False):
        super().__init__()
        self.cw = AttentionGate()
        self.hc = AttentionGate()
        self.no_spatial = no_spatial
        if not no_spatial:
            self.hw = AttentionGate()

    def forward(self, x):
        # C-W interaction: pool over H
        cw_out = self.cw(x.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3).contiguous()
        # H-C interaction: pool over W
        hc_out = self.hc(x.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1).contiguous()
        if not self.no_spatial:
            hw_out = self.hw(x)
            return 1 / 3 * (hw_out + cw_out + hc_out)
        return 1 / 2 * (cw_out + hc_out)
