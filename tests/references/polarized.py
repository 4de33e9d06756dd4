"""Polarized self-attention, parallel and sequential (reference, External-Attention-pytorch's
ParallelPolarizedSelfAttention and SequentialPolarizedSelfAttention)."""
import torch
from torch import nn


class _PolarizedLayers(nn.Module):
    """The layers both layouts own, in the original's order, and their two branches."""

    def __init__(self, channel=512):
        super().__init__()
        half = channel // 2
        self.ch_wv = nn.Conv2d(channel, half, kernel_size=(1, 1))
        self.ch_wq = nn.Conv2d(channel, 1, kernel_size=(1, 1))
        self.softmax_channel = nn.Softmax(1)
        self.softmax_spatial = nn.Softmax(-1)
        self.ch_wz = nn.Conv2d(half, channel, kernel_size=(1, 1))
        self.ln = nn.LayerNorm(channel)
        self.sigmoid = nn.Sigmoid()
        self.sp_wv = nn.Conv2d(channel, half, kernel_size=(1, 1))
        self.sp_wq = nn.Conv2d(channel, half, kernel_size=(1, 1))
        self.agp = nn.AdaptiveAvgPool2d((1, 1))

    def channel_gate(self, x):
        """(B, C, H, W) -> (B, C, 1, 1)."""
        b, c = x.shape[:2]
        values = self.ch_wv(x).flatten(2)  # (B, C/2, HW)
        query = self.softmax_channel(self.ch_wq(x).flatten(2).transpose(1, 2))  # (B, HW, 1)
        pooled = torch.matmul(values, query).unsqueeze(-1)  # (B, C/2, 1, 1)
        logits = self.ch_wz(pooled).reshape(b, c, 1).transpose(1, 2)  # (B, 1, C)
        return self.sigmoid(self.ln(logits)).transpose(1, 2).reshape(b, c, 1, 1)

    def spatial_gate(self, x):
        """(B, C, H, W) -> (B, 1, H, W)."""
        b, c, h, w = x.shape
        values = self.sp_wv(x).flatten(2)  # (B, C/2, HW)
        query = self.agp(self.sp_wq(x)).permute(0, 2, 3, 1).reshape(b, 1, c // 2)
        weights = torch.matmul(self.softmax_spatial(query), values)  # (B, 1, HW)
        return self.sigmoid(weights.reshape(b, 1, h, w))


class ParallelPolarizedSelfAttention(_PolarizedLayers):
    """(B, channel, H, W) -> same: the channel and spatial gates applied to x, added."""

    def forward(self, x):
        return self.spatial_gate(x) * x + self.channel_gate(x) * x


class SequentialPolarizedSelfAttention(_PolarizedLayers):
    """(B, channel, H, W) -> same: the channel gate, then the spatial gate of its result."""

    def forward(self, x):
        gated = self.channel_gate(x) * x
        return self.spatial_gate(gated) * gated
