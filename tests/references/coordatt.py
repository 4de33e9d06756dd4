"""Coordinate Attention and its hard-sigmoid / hard-swish helpers (reference)."""
import torch
from torch import nn


class h_sigmoid(nn.Module):
    """Piecewise-linear sigmoid: ReLU6(x + 3) / 6."""

    def __init__(self, inplace=True):
        super().__init__()
        self.relu = nn.ReLU6(inplace=inplace)

    def forward(self, x):
        return self.relu(x + 3) / 6


class h_swish(nn.Module):
    """x * h_sigmoid(x)."""

    def __init__(self, inplace=True):
        super().__init__()
        self.sigmoid = h_sigmoid(inplace=inplace)

    def forward(self, x):
        return x * self.sigmoid(x)


class _CoordAttBase(nn.Module):
    """Shared body of the two coordinate-attention variants.

    ``act_name`` is the attribute under which the post-BN activation is
    registered; it sits between ``bn1`` and ``conv_h`` in registration order.
    """

    def __init__(self, inp, oup, reduction, act_name, act):
        super().__init__()
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))  # (B, C, H, 1)
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))  # (B, C, 1, W)
        mip = max(8, inp // reduction)
        self.conv1 = nn.Conv2d(inp, mip, kernel_size=1, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(mip)
        self._act_name = act_name
        self.add_module(act_name, act)
        self.conv_h = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)
        self.conv_w = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        along_h = self.pool_h(x)  # (B, C, H, 1)
        along_w = self.pool_w(x).permute(0, 1, 3, 2)  # (B, C, W, 1)
        y = torch.cat([along_h, along_w], dim=2)  # (B, C, H+W, 1)
        y = self.conv1(y)
        y = self.bn1(y)
        y = getattr(self, self._act_name)(y)
        y_h, y_w = torch.split(y, [h, w], dim=2)
        y_w = y_w.permute(0, 1, 3, 2)  # (B, mip, 1, W)
        a_h = self.conv_h(y_h).sigmoid()  # (B, oup, H, 1)
        a_w = self.conv_w(y_w).sigmoid()  # (B, oup, 1, W)
        return x * a_w * a_h


class CoordAtt(_CoordAttBase):
    """Coordinate attention with h_swish after bn1 (attribute ``act``)."""

    def __init__(self, inp, oup, reduction=32):
        super().__init__(inp, oup, reduction, "act", h_swish())


class CoordAttReLU(_CoordAttBase):
    """Coordinate attention with a plain ReLU after bn1 (attribute ``relu``)."""

    def __init__(self, inp, oup, reduction=32):
        super().__init__(inp, oup, reduction, "relu", nn.ReLU())
