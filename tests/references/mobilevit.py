"""MobileViT block (reference): local convolutions, a transformer over the positions of
patches, fusion with the input. Its state_dict keys are those of the External-Attention
collection's MobileViTAttention (`trans.layers.i.0` attention, `trans.layers.i.1` MLP)."""
import torch
from torch import nn


class _PreNorm(nn.Module):
    """ln, then fn."""

    def __init__(self, dim, fn):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.ln(x))


class _Attention(nn.Module):
    """(b, p, n, dim) -> (b, p, n, dim): heads attend over the n tokens of each p."""

    def __init__(self, dim, heads, head_dim, dropout):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.head_dim = heads, head_dim
        self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        if heads == 1 and head_dim == dim:
            self.to_out = nn.Identity()
        else:
            self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))

    def forward(self, x):
        b, p, n, _ = x.shape
        qkv = self.to_qkv(x).reshape(b, p, n, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)  # each (b, p, heads, n, head_dim)
        weights = torch.softmax(q @ k.transpose(-1, -2) / self.head_dim ** 0.5, dim=-1)
        out = (weights @ v).transpose(2, 3).reshape(b, p, n, self.heads * self.head_dim)
        return self.to_out(out)


class _FeedForward(nn.Module):
    def __init__(self, dim, mlp_dim, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, mlp_dim), nn.SiLU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class MobileViTTransformer(nn.Module):
    def __init__(self, dim, depth, heads, head_dim, mlp_dim, dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([_PreNorm(dim, _Attention(dim, heads, head_dim, dropout)),
                           _PreNorm(dim, _FeedForward(dim, mlp_dim, dropout))])
            for _ in range(depth))

    def forward(self, x):
        for attend, mlp in self.layers:
            x = x + attend(x)
            x = x + mlp(x)
        return x


class MobileViTAttention(nn.Module):
    def __init__(self, in_channel=3, dim=512, kernel_size=3, patch_size=7, depth=3, heads=8,
                 head_dim=64, mlp_dim=1024):
        super().__init__()
        self.patch = patch_size
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_channel, in_channel, kernel_size, padding=pad)
        self.conv2 = nn.Conv2d(in_channel, dim, 1)
        self.trans = MobileViTTransformer(dim, depth, heads, head_dim, mlp_dim)
        self.conv3 = nn.Conv2d(dim, in_channel, 1)
        self.conv4 = nn.Conv2d(2 * in_channel, in_channel, kernel_size, padding=pad)

    def forward(self, x):
        y = self.conv2(self.conv1(x))
        b, d, h, w = y.shape
        s = self.patch
        # (b, d, h, w) -> (b, s*s, (h/s)*(w/s), d): one sequence of patches per position
        tokens = y.reshape(b, d, h // s, s, w // s, s).permute(0, 3, 5, 2, 4, 1)
        tokens = tokens.reshape(b, s * s, (h // s) * (w // s), d)
        tokens = self.trans(tokens)
        y = tokens.reshape(b, s, s, h // s, w // s, d).permute(0, 5, 3, 1, 4, 2)
        y = self.conv3(y.reshape(b, d, h, w))
        return self.conv4(torch.cat([x, y], dim=1))
