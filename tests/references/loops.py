"""Hand-written modules for the loop specs of tests/loop_specs/ (range loops, zip, seq loops)."""
from collections import OrderedDict

import torch
from torch import nn


class DilatedPyramid(nn.Module):
    """num_layers parallel branches, branch i dilated 2 ** i and scaled by 1 / (i + 1)."""

    def __init__(self, channel=16, num_layers=3, reduction=2):
        super().__init__()
        width = channel // reduction
        self.branches = nn.ModuleList()
        for i in range(num_layers):
            self.branches.append(nn.Sequential(
                nn.Conv2d(channel, width, 3, padding=2 ** i, dilation=2 ** i),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ))
        self.fuse = nn.Conv2d(width * num_layers, channel, 1)

    def forward(self, x):
        outs = []
        for i, branch in enumerate(self.branches):
            outs.append(branch(x) / (i + 1))
        return self.fuse(torch.cat(outs, dim=1)) + x


class PSASplit(nn.Module):
    """PSA's split-and-weight: part i of S gets a conv of kernel 2 * (i + 1) + 1 and an SE
    gate; a softmax across the parts weights them."""

    def __init__(self, channel=32, S=4, reduction=2):
        super().__init__()
        self.S = S
        part = channel // S
        self.convs = nn.ModuleList(
            nn.Conv2d(part, part, kernel_size=2 * (i + 1) + 1, padding=i + 1) for i in range(S))
        self.gates = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(part, channel // (S * reduction), 1, bias=False),
                nn.ReLU(),
                nn.Conv2d(channel // (S * reduction), part, 1, bias=False),
                nn.Sigmoid(),
            )
            for _ in range(S))

    def forward(self, x):
        b, c, h, w = x.shape
        parts = x.view(b, self.S, c // self.S, h, w)
        spc = torch.stack([conv(parts[:, i]) for i, conv in enumerate(self.convs)], dim=1)
        se = torch.stack([gate(spc[:, i]) for i, gate in enumerate(self.gates)], dim=1)
        return (spc * se.softmax(dim=1)).reshape(b, c, h, w)


class SeqLoops(nn.Module):
    """A Sequential built from a list (repeated convs, an optional BatchNorm: the keys of
    the layers after it move up when it is left out) and a named one (the repeated convs in
    an inner Sequential, an Identity where the BatchNorm is left out)."""

    def __init__(self, channel=16, num_layers=2, use_bn=True):
        super().__init__()
        layers = [nn.Conv2d(channel, channel, 1)]
        for i in range(num_layers):
            layers.append(nn.Conv2d(channel, channel, 3, padding=2 ** i, dilation=2 ** i))
        if use_bn:
            layers.append(nn.BatchNorm2d(channel))
        layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        blocks = [nn.Conv2d(channel, channel, 3, padding=i, dilation=i)
                  for i in range(1, num_layers + 1)]
        self.head = nn.Sequential(OrderedDict([
            ("proj", nn.Conv2d(channel, channel, 1)),
            ("blocks", nn.Sequential(*blocks)),
            ("norm", nn.BatchNorm2d(channel) if use_bn else nn.Identity()),
            ("act", nn.ReLU()),
        ]))

    def forward(self, x):
        return self.head(self.body(x))
