"""PVT's spatial-reduction attention (reference): keys and values from the token map
shrunk by a strided conv; forward takes the map's height and width beside the tokens."""
import torch
from torch import nn


class SpatialReductionAttention(nn.Module):
    """x (b, H * W, dim), H, W -> (b, H * W, dim)."""

    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0.0,
                 proj_drop=0.0, sr_ratio=1):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, H, W):
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).view(b, n, heads, c // heads).transpose(1, 2)  # (b, heads, n, d)
        tokens = x
        if self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(b, c, H, W)  # token i is pixel (i // W, i % W)
            tokens = self.norm(self.sr(grid).flatten(2).transpose(1, 2))
        kv = self.kv(tokens).view(b, -1, 2, heads, c // heads)
        k, v = (t.transpose(1, 2) for t in kv.unbind(2))  # each (b, heads, m, d)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        out = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))
