"""A2-Nets' double attention (reference, External-Attention-pytorch's DoubleAttention).

The original calls F.softmax without a dim on (B, c_n, H*W) tensors; PyTorch's legacy
rule takes dim 0 for a 3-d tensor, so this reference normalises over the batch, as the
original computes (tests/test_ea_differences.py checks the legacy rule).
"""
import torch
from torch import nn


class DoubleAttention(nn.Module):
    """(B, in_channels, H, W) -> (B, in_channels, H, W), or (B, c_m, H, W) without
    reconstruct."""

    def __init__(self, in_channels, c_m, c_n, reconstruct=True):
        super().__init__()
        self.in_channels = in_channels
        self.reconstruct = reconstruct
        self.c_m = c_m
        self.c_n = c_n
        self.convA = nn.Conv2d(in_channels, c_m, 1)
        self.convB = nn.Conv2d(in_channels, c_n, 1)
        self.convV = nn.Conv2d(in_channels, c_n, 1)
        if reconstruct:
            self.conv_reconstruct = nn.Conv2d(c_m, in_channels, kernel_size=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        b, _, h, w = x.shape
        feats = self.convA(x).flatten(2)  # (b, c_m, h*w)
        maps = torch.softmax(self.convB(x).flatten(2), dim=0)  # (b, c_n, h*w)
        vectors = torch.softmax(self.convV(x).flatten(2), dim=0)  # (b, c_n, h*w)
        descriptors = torch.bmm(feats, maps.transpose(1, 2))  # (b, c_m, c_n)
        z = torch.bmm(descriptors, vectors).reshape(b, self.c_m, h, w)
        return self.conv_reconstruct(z) if self.reconstruct else z
