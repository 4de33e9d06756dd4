"""Outlook attention of VOLO (reference, External-Attention-pytorch's OutlookAttention).

Written per window: each window's values (unfold) are mixed by a window x window matrix
per head, made from the average-pooled token at the window's place; fold adds the
overlapping windows back. OutlookAttention unfolds with padding and stride by keyword
(the paper's windows); OutlookAttentionAsWritten passes them by position, as the original
does, into Unfold's dilation and padding (tests/test_ea_differences.py).
"""
import torch
from torch import nn
from torch.nn import functional as F


class OutlookAttention(nn.Module):
    """(B, H, W, dim) -> (B, H, W, dim), channels last."""

    _unfold_by_position = False

    def __init__(self, dim, num_heads=1, kernel_size=3, padding=1, stride=1, qkv_bias=False,
                 attn_drop=0.1):
        super().__init__()
        self.heads, self.k, self.padding, self.stride = num_heads, kernel_size, padding, stride
        self.v_pj = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn = nn.Linear(dim, kernel_size ** 4 * num_heads)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(attn_drop)

    def windows(self, image):
        """(B, C, H, W) -> (B, C * k * k, number of windows)."""
        if self._unfold_by_position:  # Unfold(kernel_size, dilation, padding)
            return nn.Unfold(self.k, self.padding, self.stride)(image)
        return F.unfold(image, self.k, padding=self.padding, stride=self.stride)

    def forward(self, x):
        b, h, w, c = x.shape
        k2, heads = self.k * self.k, self.heads
        values = self.windows(self.v_pj(x).permute(0, 3, 1, 2))  # (B, C k2, L)
        n = values.shape[-1]
        values = values.view(b, heads, c // heads, k2, n)  # (B, heads, d, k2, L)
        pooled = F.avg_pool2d(x.permute(0, 3, 1, 2), self.stride, self.stride, ceil_mode=True)
        tokens = pooled.flatten(2).transpose(1, 2)  # (B, L, C)
        logits = self.attn(tokens).view(b, n, heads, k2, k2)  # (B, L, heads, k2 out, k2 in)
        weights = self.attn_drop((logits / (c // heads) ** 0.5).softmax(dim=-1))
        mixed = torch.einsum("blhoi,bhdil->bhdol", weights, values)  # (B, heads, d, k2, L)
        image = F.fold(mixed.reshape(b, c * k2, n), (h, w), self.k, padding=self.padding,
                       stride=self.stride)
        return self.proj_drop(self.proj(image.permute(0, 2, 3, 1)))


class OutlookAttentionAsWritten(OutlookAttention):
    """The original's unfold: padding and stride land in Unfold's dilation and padding."""

    _unfold_by_position = True
