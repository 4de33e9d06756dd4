"""Class-specific residual attention (reference, External-Attention-pytorch's
ResidualAttention)."""
from torch import nn


class ResidualAttention(nn.Module):
    """(B, channel, H, W) -> class scores (B, num_class): per class map, its spatial mean
    plus la times its spatial maximum."""

    def __init__(self, channel=512, num_class=1000, la=0.2):
        super().__init__()
        self.la = la
        self.fc = nn.Conv2d(channel, num_class, kernel_size=1, bias=False)

    def forward(self, x):
        maps = self.fc(x).flatten(start_dim=2)  # (B, num_class, H*W)
        return maps.mean(dim=-1) + self.la * maps.max(dim=-1).values
