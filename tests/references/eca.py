"""Efficient Channel Attention (reference)."""
from torch import nn


class ECAAttention(nn.Module):
    """Pooled channel descriptor -> 1-D conv across channels -> sigmoid gate.

    Input and output: (B, C, H, W). kernel_size should be odd so the 1-D conv
    keeps the channel length.
    """

    def __init__(self, kernel_size=3):
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=kernel_size, padding=(kernel_size - 1) // 2)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        y = self.gap(x)  # (B, C, 1, 1)
        y = y.squeeze(-1).permute(0, 2, 1)  # (B, 1, C): channels become a sequence
        y = self.sigmoid(self.conv(y))  # (B, 1, C)
        y = y.permute(0, 2, 1).unsqueeze(-1)  # (B, C, 1, 1)
        return x * y
