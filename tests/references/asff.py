"""Adaptive Spatial Feature Fusion (reference)."""
import torch
import torch.nn.functional as F
from torch import nn


def autopad(k, p=None):
    """'Same' padding for odd kernels when p is None (int or per-dim sequence)."""
    if p is None:
        p = k // 2 if isinstance(k, int) else [v // 2 for v in k]
    return p


class Conv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> activation.

    act=True gives SiLU, an nn.Module instance is used as given, anything else
    gives Identity.
    """

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        if act is True:
            self.act = nn.SiLU()
        elif isinstance(act, nn.Module):
            self.act = act
        else:
            self.act = nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class ASFF(nn.Module):
    """Fuse three pyramid levels at the resolution/width of ``level``.

    forward takes [x_level_2, x_level_1, x_level_0]:
      x_level_2: (B, 256m, 4H, 4W), x_level_1: (B, 512m, 2H, 2W),
      x_level_0: (B, 1024m, H, W)   (m = multiplier).
    Output has dim[level] channels at that level's resolution; with vis=True
    the softmaxed level weights and the channel-summed fused map are returned
    as well.
    """

    def __init__(self, level, multiplier=1, rfb=False, vis=False):
        super().__init__()
        if level not in (0, 1, 2):
            raise ValueError(f"level must be 0, 1 or 2, got {level!r}")
        self.level = level
        self.dim = [int(1024 * multiplier), int(512 * multiplier), int(256 * multiplier)]
        self.inter_dim = self.dim[self.level]
        c0, c1, c2 = self.dim
        if level == 0:
            self.stride_level_1 = Conv(c1, self.inter_dim, 3, 2)
            self.stride_level_2 = Conv(c2, self.inter_dim, 3, 2)
            self.expand = Conv(self.inter_dim, c0, 3, 1)
        elif level == 1:
            self.compress_level_0 = Conv(c0, self.inter_dim, 1, 1)
            self.stride_level_2 = Conv(c2, self.inter_dim, 3, 2)
            self.expand = Conv(self.inter_dim, c1, 3, 1)
        else:
            self.compress_level_0 = Conv(c0, self.inter_dim, 1, 1)
            self.compress_level_1 = Conv(c1, self.inter_dim, 1, 1)
            self.expand = Conv(self.inter_dim, c2, 3, 1)

        compress_c = 8 if rfb else 16  # fewer weight channels in RFB mode
        self.weight_level_0 = Conv(self.inter_dim, compress_c, 1, 1)
        self.weight_level_1 = Conv(self.inter_dim, compress_c, 1, 1)
        self.weight_level_2 = Conv(self.inter_dim, compress_c, 1, 1)
        self.weight_levels = Conv(compress_c * 3, 3, 1, 1)
        self.vis = vis

    def _resize(self, x_level_0, x_level_1, x_level_2):
        """Bring all three levels to this level's channels and resolution."""
        if self.level == 0:
            r0 = x_level_0
            r1 = self.stride_level_1(x_level_1)
            r2 = self.stride_level_2(F.max_pool2d(x_level_2, 3, stride=2, padding=1))
        elif self.level == 1:
            r0 = F.interpolate(self.compress_level_0(x_level_0), scale_factor=2, mode="nearest")
            r1 = x_level_1
            r2 = self.stride_level_2(x_level_2)
        else:
            r0 = F.interpolate(self.compress_level_0(x_level_0), scale_factor=4, mode="nearest")
            r1 = F.interpolate(self.compress_level_1(x_level_1), scale_factor=2, mode="nearest")
            r2 = x_level_2
        return r0, r1, r2

    def forward(self, x):
        x_level_0, x_level_1, x_level_2 = x[2], x[1], x[0]
        r0, r1, r2 = self._resize(x_level_0, x_level_1, x_level_2)

        logits = torch.cat(
            (self.weight_level_0(r0), self.weight_level_1(r1), self.weight_level_2(r2)), 1)
        levels_weight = F.softmax(self.weight_levels(logits), dim=1)  # (B, 3, h, w)

        fused = (r0 * levels_weight[:, 0:1, :, :]
                 + r1 * levels_weight[:, 1:2, :, :]
                 + r2 * levels_weight[:, 2:, :, :])
        out = self.expand(fused)
        if self.vis:
            return out, levels_weight, fused.sum(dim=1)
        return out
