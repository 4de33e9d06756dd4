"""Small variant modules built from the base references (reference).

Two-branch SK is ``SKAttention(kernels=[3, 5])``; ``SKTwoBranchAttention`` only makes
that the default. CoordAtt with a ReLU is ``coordatt.CoordAttReLU`` (the notes' first
listing), re-exported here.
"""
import math

from torch import nn

from .cbam import ChannelAttention
from .coordatt import CoordAttReLU
from .eca import ECAAttention
from .sk import SKAttention

__all__ = ["CBAMChannelOnly", "CoordAttReLU", "ECAAdaptiveAttention", "SEAvgMaxAttention",
           "SEMaxAttention", "SKTwoBranchAttention", "eca_kernel_size"]


def _se_mlp(channel, reduction):
    hidden = channel // reduction
    return nn.Sequential(
        nn.Linear(channel, hidden, bias=False),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, channel, bias=False),
        nn.Sigmoid(),
    )


class SEMaxAttention(nn.Module):
    """SE with global max pooling (``max_pool``) as the squeeze."""

    def __init__(self, channel=512, reduction=16):
        super().__init__()
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = _se_mlp(channel, reduction)

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        gate = self.fc(self.max_pool(x).view(b, c)).view(b, c, 1, 1)
        return x * gate


class SEAvgMaxAttention(nn.Module):
    """SE whose squeeze is avg-pool + max-pool, summed before the single shared fc."""

    def __init__(self, channel=512, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = _se_mlp(channel, reduction)

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        squeezed = self.avg_pool(x).view(b, c) + self.max_pool(x).view(b, c)
        gate = self.fc(squeezed).view(b, c, 1, 1)
        return x * gate


def eca_kernel_size(channel, gamma=2, b=1):
    """ECA-Net adaptive kernel: nearest odd value of |(log2(C) + b) / gamma| (rounded up)."""
    t = int(abs((math.log2(channel) + b) / gamma))
    return t if t % 2 else t + 1


class ECAAdaptiveAttention(ECAAttention):
    """ECA whose 1-D kernel size is derived from the channel count."""

    def __init__(self, channel, gamma=2, b=1):
        super().__init__(kernel_size=eca_kernel_size(channel, gamma, b))


class CBAMChannelOnly(nn.Module):
    """CBAM without the spatial stage: x * ChannelAttention(x)."""

    def __init__(self, in_planes, ratio=16):
        super().__init__()
        self.ca = ChannelAttention(in_planes, ratio)

    def forward(self, x):
        return x * self.ca(x)


class SKTwoBranchAttention(SKAttention):
    """SK with a 3x3 and a 5x5 branch by default."""

    def __init__(self, channel=512, kernels=(3, 5), reduction=8, group=1, L=32):
        super().__init__(channel, list(kernels), reduction, group, L)
