"""Squeeze-and-Excitation channel gate (reference)."""
from torch import nn


class SEAttention(nn.Module):
    """Global average pool -> bottleneck MLP -> sigmoid -> per-channel rescale.

    Input and output: (B, C, H, W) with C == channel.
    """

    def __init__(self, channel=512, reduction=16):
        super().__init__()
        hidden = channel // reduction
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        b, c = x.shape[0], x.shape[1]
        descriptor = self.avg_pool(x).view(b, c)  # (B, C)
        gate = self.fc(descriptor).view(b, c, 1, 1)  # (B, C, 1, 1)
        return x * gate
