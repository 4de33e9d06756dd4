"""HorNet's recursive gated convolution (reference), the default path of the public
collection's gnconv: one 7x7 depthwise convolution makes every order's gate, and 1x1
convolutions double the channels from one order to the next."""
import torch
from torch import nn


class gnconv(nn.Module):  # noqa: N801 -- the original's class name
    def __init__(self, dim, order=5, s=1.0):
        super().__init__()
        self.order, self.scale = order, s
        self.dims = [dim // 2 ** k for k in range(order)][::-1]  # smallest first
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = nn.Conv2d(sum(self.dims), sum(self.dims), 7, padding=3,
                                groups=sum(self.dims))
        self.proj_out = nn.Conv2d(dim, dim, 1)
        self.pws = nn.ModuleList(
            nn.Conv2d(self.dims[k], self.dims[k + 1], 1) for k in range(order - 1))

    def forward(self, x):
        pwa, abc = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        gates = torch.split(self.dwconv(abc) * self.scale, self.dims, dim=1)
        x = pwa * gates[0]
        for k, pw in enumerate(self.pws):
            x = pw(x) * gates[k + 1]
        return self.proj_out(x)
