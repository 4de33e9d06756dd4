"""GFNet's global filter (reference): the tokens of a square map through a learned filter
on their 2-D spectrum, in float32 as the original computes it. Its state_dict key is the
External-Attention collection's (`complex_weight`, (h, w, dim, 2))."""
import math

import torch
from torch import nn


class GlobalFilter(nn.Module):
    def __init__(self, dim, h=14, w=8):
        super().__init__()
        self.complex_weight = nn.Parameter(torch.randn(h, w, dim, 2) * 0.02)
        self.h, self.w = h, w

    def forward(self, x, spatial_size=None):
        batch, n, channels = x.shape
        side = int(math.sqrt(n))
        a, b = spatial_size if spatial_size is not None else (side, side)
        grid = x.view(batch, a, b, channels).to(torch.float32)
        spectrum = torch.fft.rfft2(grid, dim=(1, 2), norm="ortho")
        spectrum = spectrum * torch.view_as_complex(self.complex_weight)
        grid = torch.fft.irfft2(spectrum, s=(a, b), dim=(1, 2), norm="ortho")
        return grid.reshape(batch, n, channels)



class GFNetMlp(nn.Module):
    """The original's Mlp with its default act_layer (GELU): one Dropout after each Linear."""

    def __init__(self, in_features, hidden_features=None, out_features=None, drop=0.0):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth as timm's DropPath draws it: one Bernoulli value per sample."""

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        if keep > 0.0:
            mask.div_(keep)
        return x * mask


class GFNetBlock(nn.Module):
    """The original's Block with its default layers (LayerNorm, GELU): one residual around
    norm, filter, norm and MLP, dropped per sample in training (drop_path)."""

    def __init__(self, dim, mlp_ratio=4.0, drop=0.0, drop_path=0.0, h=14, w=8):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.filter = GlobalFilter(dim, h=h, w=w)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = GFNetMlp(dim, hidden_features=int(dim * mlp_ratio), drop=drop)

    def forward(self, x):
        return x + self.drop_path(self.mlp(self.norm2(self.filter(self.norm1(x)))))


class GFNetPatchEmbed(nn.Module):
    """The original's PatchEmbed: a conv with kernel and stride patch_size, the patches as
    tokens, row by row; the image must be img_size a side (the original asserts it)."""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.img_size = (img_size, img_size)
        self.patch_size = (patch_size, patch_size)
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        _, _, height, width = x.shape
        assert (height, width) == self.img_size, f"image {height}x{width}, not {self.img_size}"
        return self.proj(x).flatten(2).transpose(1, 2)


class GFNet(nn.Module):
    """The original's GFNet, `embedding` included: a Linear its forward never calls, whose
    weights are in the state_dict all the same."""

    def __init__(self, embed_dim=384, img_size=224, patch_size=16, mlp_ratio=4, depth=4,
                 num_classes=1000):
        super().__init__()
        self.patch_embed = GFNetPatchEmbed(img_size=img_size, patch_size=patch_size,
                                           embed_dim=embed_dim)
        self.embedding = nn.Linear(patch_size ** 2 * 3, embed_dim)
        side = img_size // patch_size
        self.blocks = nn.ModuleList([
            GFNetBlock(dim=embed_dim, mlp_ratio=mlp_ratio, h=side, w=side // 2 + 1)
            for _ in range(depth)
        ])
        self.head = nn.Linear(embed_dim, num_classes)
        self.softmax = nn.Softmax(1)

    def forward(self, x):
        x = self.patch_embed(x)
        for block in self.blocks:
            x = block(x)
        return self.softmax(self.head(x.mean(dim=1)))
