"""Selective Kernel attention (reference)."""
from collections import OrderedDict

import torch
from torch import nn


class SKAttention(nn.Module):
    """Multi-kernel conv branches fused by a softmax over branches.

    Input and output: (B, C, H, W) with C == channel. ``kernels`` defaults to
    the tuple (1, 3, 5, 7) (immutable stand-in for the list default).
    """

    def __init__(self, channel=512, kernels=(1, 3, 5, 7), reduction=8, group=1, L=32):
        super().__init__()
        self.d = max(L, channel // reduction)
        self.convs = nn.ModuleList()
        for k in kernels:
            branch = nn.Sequential(
                OrderedDict(
                    [
                        ("conv", nn.Conv2d(channel, channel, kernel_size=k, padding=k // 2,
                                           groups=group)),
                        ("bn", nn.BatchNorm2d(channel)),
                        ("relu", nn.ReLU()),
                    ]
                )
            )
            self.convs.append(branch)
        self.fc = nn.Linear(channel, self.d)
        self.fcs = nn.ModuleList()
        for _ in range(len(kernels)):
            self.fcs.append(nn.Linear(self.d, channel))
        self.softmax = nn.Softmax(dim=0)

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        # split: one (B, C, H, W) map per kernel size
        branches = [branch(x) for branch in self.convs]
        feats = torch.stack(branches, 0)  # (K, B, C, H, W)
        # fuse: element-wise sum of the branches, then spatial mean
        fused = sum(branches)
        pooled = fused.mean(-1).mean(-1)  # (B, C)
        z = self.fc(pooled)  # (B, d)
        # select: per-branch channel logits, softmax across branches
        logits = torch.stack([head(z).view(b, c, 1, 1) for head in self.fcs], 0)
        weights = self.softmax(logits)  # (K, B, C, 1, 1)
        return (weights * feats).sum(0)
