"""ParNet's skip-squeeze-excitation block (reference, External-Attention-pytorch's
ParNetAttention)."""
from torch import nn


class ParNetAttention(nn.Module):
    """silu(BN(conv1x1(x)) + BN(conv3x3(x)) + sigmoid(conv1x1(avgpool(x))) * x).

    (B, channel, H, W) -> same.
    """

    def __init__(self, channel=512):
        super().__init__()
        self.sse = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channel, channel, 1),
                                 nn.Sigmoid())
        self.conv1x1 = nn.Sequential(nn.Conv2d(channel, channel, 1), nn.BatchNorm2d(channel))
        self.conv3x3 = nn.Sequential(nn.Conv2d(channel, channel, 3, padding=1),
                                     nn.BatchNorm2d(channel))
        self.silu = nn.SiLU()

    def forward(self, x):
        gate = self.sse(x)
        return self.silu(self.conv1x1(x) + self.conv3x3(x) + gate * x)
