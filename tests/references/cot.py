"""Contextual Transformer (CoT) attention (reference)."""
import torch
import torch.nn.functional as F
from torch import nn


class CoTAttention(nn.Module):
    """Static context (grouped k x k conv on keys) plus dynamic context
    (softmax-over-positions weights applied to values). (B, C, H, W) -> same.

    ``dim`` must be divisible by 4 (the key conv uses groups=4).
    """

    def __init__(self, dim=512, kernel_size=3):
        super().__init__()
        self.dim = dim
        self.kernel_size = kernel_size
        self.key_embed = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=kernel_size // 2, groups=4,
                      bias=False),
            nn.BatchNorm2d(dim),
            nn.ReLU(),
        )
        self.value_embed = nn.Sequential(
            nn.Conv2d(dim, dim, 1, bias=False),
            nn.BatchNorm2d(dim),
        )
        factor = 4
        hidden = 2 * dim // factor
        self.attention_embed = nn.Sequential(
            nn.Conv2d(2 * dim, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, kernel_size * kernel_size * dim, 1),
        )

    def forward(self, x):
        bs, c, h, w = x.shape
        k1 = self.key_embed(x)  # static context, (B, C, H, W)
        v = self.value_embed(x).view(bs, c, -1)  # (B, C, HW)
        att = self.attention_embed(torch.cat([k1, x], dim=1))  # (B, C*k*k, H, W)
        att = att.reshape(bs, c, self.kernel_size * self.kernel_size, h, w)
        att = att.mean(2, keepdim=False).view(bs, c, -1)  # (B, C, HW)
        k2 = (F.softmax(att, dim=-1) * v).view(bs, c, h, w)  # dynamic context
        return k1 + k2
