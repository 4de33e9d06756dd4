"""Vision Permutator's weighted permute MLP (reference, External-Attention-pytorch's
WeightedPermuteMLP).

Written with index arithmetic on an explicit (B, H, W, seg_dim, S) split of the channels
(S = dim // seg_dim). mlp_h and mlp_w read H * S and W * S features, which are dim only
when H == W == seg_dim: the module takes only seg_dim x seg_dim maps.
"""
from torch import nn


class _ReweightMLP(nn.Module):
    """fc1 -> GELU -> dropout -> fc2 -> dropout (one Dropout used twice, as the original)."""

    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim // 4)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(dim // 4, dim * 3)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class WeightedPermuteMLP(nn.Module):
    """(B, seg_dim, seg_dim, dim) -> same (channels last)."""

    def __init__(self, dim, seg_dim=8, qkv_bias=False, proj_drop=0.0):
        super().__init__()
        self.seg_dim = seg_dim
        self.mlp_c = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_h = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_w = nn.Linear(dim, dim, bias=qkv_bias)
        self.reweighting = _ReweightMLP(dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _along(self, x, mlp, axis):
        """mlp over (positions along `axis`, one channel segment) tokens."""
        B, H, W, C = x.shape
        parts = x.reshape(B, H, W, self.seg_dim, C // self.seg_dim)
        # put `axis` next to the segment's features, the segment index in its place
        parts = parts.transpose(axis, 3)  # (B, ..., seg, ..., positions, S)
        mixed = mlp(parts.flatten(3)).unflatten(3, (parts.shape[3], -1))
        return mixed.transpose(axis, 3).flatten(3)

    def forward(self, x):
        c = self.mlp_c(x)
        h = self._along(x, self.mlp_h, 1)
        w = self._along(x, self.mlp_w, 2)
        pooled = (c + h + w).mean(dim=(1, 2))  # (B, C)
        logits = self.reweighting(pooled).view(pooled.shape[0], -1, 3)  # (B, C, 3)
        a = logits.softmax(dim=2)[:, None, None]  # (B, 1, 1, C, 3)
        mixed = c * a[..., 0] + w * a[..., 1] + h * a[..., 2]
        return self.proj_drop(self.proj(mixed))
