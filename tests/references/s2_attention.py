"""S2-MLPv2's spatial-shift attention (reference, External-Attention-pytorch's S2Attention).

S2Attention follows the intent: each shift moves a quarter of the channels by one position
(a copy; the first row or column keeps its values) and the split attention has the
module's width. S2AttentionInPlace shifts as the original does, by overlapping in-place
slice assignments (tests/test_ea_differences.py shows what that computes).
"""
import torch
from torch import nn

# (dim of (B, H, W, C), step) for each quarter of the channels, in order
_SHIFTS_1 = ((1, 1), (1, -1), (2, 1), (2, -1))
_SHIFTS_2 = ((2, 1), (2, -1), (1, 1), (1, -1))


def shifted(x, dim, step):
    """x moved one place along dim (step +1: toward the end), the vacated place kept."""
    n = x.shape[dim]
    if step > 0:
        moved = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)
    else:
        moved = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)
    return moved


def shift_quarters(x, plan):
    """(B, H, W, C) with quarter i of C shifted by plan[i]."""
    return torch.cat([shifted(q, dim, step) for q, (dim, step) in
                      zip(x.chunk(4, dim=-1), plan, strict=True)], dim=-1)


def shift_quarters_in_place(x, plan):
    """As the original: x[..., quarter] assigned from an overlapping slice of itself."""
    c = x.shape[-1] // 4
    for i, (dim, step) in enumerate(plan):
        q = x[..., i * c:(i + 1) * c]
        n = q.shape[dim]
        if step > 0:
            q.narrow(dim, 1, n - 1).copy_(q.narrow(dim, 0, n - 1))
        else:
            q.narrow(dim, 0, n - 1).copy_(q.narrow(dim, 1, n - 1))
    return x


class SplitAttention(nn.Module):
    """(B, k, H, W, C) -> (B, H, W, C): the k maps weighed by a softmax over k per channel."""

    def __init__(self, channel=512, k=3):
        super().__init__()
        self.k = k
        self.mlp1 = nn.Linear(channel, channel, bias=False)
        self.gelu = nn.GELU()
        self.mlp2 = nn.Linear(channel, channel * k, bias=False)
        self.softmax = nn.Softmax(1)

    def forward(self, x_all):
        b, k, h, w, c = x_all.shape
        summary = x_all.sum(dim=(1, 2, 3))  # (B, C)
        logits = self.mlp2(self.gelu(self.mlp1(summary))).view(b, k, 1, 1, c)
        return (self.softmax(logits) * x_all).sum(dim=1)


class S2Attention(nn.Module):
    """(B, C, H, W) -> same."""

    _in_place = False

    def __init__(self, channels=512):
        super().__init__()
        self.mlp1 = nn.Linear(channels, channels * 3)
        self.mlp2 = nn.Linear(channels, channels)
        self.split_attention = SplitAttention(channels)

    def forward(self, x):
        c = x.shape[1]
        wide = self.mlp1(x.permute(0, 2, 3, 1))  # (B, H, W, 3C)
        shift = shift_quarters_in_place if self._in_place else shift_quarters
        parts = [shift(wide[..., :c], _SHIFTS_1), shift(wide[..., c:2 * c], _SHIFTS_2),
                 wide[..., 2 * c:]]
        fused = self.split_attention(torch.stack(parts, dim=1))
        return self.mlp2(fused).permute(0, 3, 1, 2)


class S2AttentionInPlace(S2Attention):
    """The original's shifts: in-place copies between overlapping slices."""

    _in_place = True
