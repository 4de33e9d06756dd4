"""GFNet's global filter (reference): the tokens of a square map through a learned filter
on their 2-D spectrum, in float32 as the original computes it. Its state_dict key is the
External-Attention collection's (`complex_weight`, (h, w, dim, 2))."""
import math

import torch
from torch import nn


class GlobalFilter(nn.Module):
    def __init__(self, dim, h=14, w=8):
        super().__init__()
        self.complex_weight = nn.Parameter(torch.randn(h, w, dim, 2) * 0.02)
        self.h, self.w = h, w

    def forward(self, x, spatial_size=None):
        batch, n, channels = x.shape
        side = int(math.sqrt(n))
        a, b = spatial_size if spatial_size is not None else (side, side)
        grid = x.view(batch, a, b, channels).to(torch.float32)
        spectrum = torch.fft.rfft2(grid, dim=(1, 2), norm="ortho")
        spectrum = spectrum * torch.view_as_complex(self.complex_weight)
        grid = torch.fft.irfft2(spectrum, s=(a, b), dim=(1, 2), norm="ortho")
        return grid.reshape(batch, n, channels)

