"""Axial attention (reference): self-attention along each axis of a map, the other axes
merged into the batch, summed over the axes or applied one after another. Its state_dict
keys are those of the External-Attention collection's AxialAttention
(`axial_attentions.i.fn.to_q`, `.to_kv`, `.to_out`)."""
import torch
from torch import nn


class _HeadsAttention(nn.Module):
    """(n, t, dim) -> (n, t, dim): heads attend over the t tokens of each of the n rows."""

    def __init__(self, dim, heads, dim_heads=None):
        super().__init__()
        self.heads = heads
        self.dim_heads = dim // heads if dim_heads is None else dim_heads
        inner = self.heads * self.dim_heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x):
        n, t, _ = x.shape
        h, e = self.heads, self.dim_heads

        def by_head(y):  # (n, t, h * e) -> (n * h, t, e)
            return y.reshape(n, t, h, e).permute(0, 2, 1, 3).reshape(n * h, t, e)

        q = by_head(self.to_q(x))
        k, v = (by_head(y) for y in self.to_kv(x).chunk(2, dim=-1))
        weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * e ** -0.5, dim=-1)
        out = torch.bmm(weights, v).reshape(n, h, t, e).permute(0, 2, 1, 3)
        return self.to_out(out.reshape(n, t, h * e))


class _AlongAxis(nn.Module):
    """fn over the last two axes of x permuted by `order` (the attended axis, then the
    features), every other axis merged into the batch; the result permuted back."""

    def __init__(self, order, fn):
        super().__init__()
        self.order = list(order)
        self.back = sorted(range(len(order)), key=self.order.__getitem__)
        self.fn = fn

    def forward(self, x):
        moved = x.permute(*self.order).contiguous()
        out = self.fn(moved.reshape(-1, *moved.shape[-2:])).reshape(moved.shape)
        return out.permute(*self.back).contiguous()


class AxialAttention(nn.Module):
    def __init__(self, dim, num_dimensions=2, heads=8, dim_heads=None, dim_index=-1,
                 sum_axial_out=True):
        super().__init__()
        assert dim % heads == 0
        rank = num_dimensions + 2
        self.rank, self.dim = rank, dim
        self.dim_index = dim_index % rank
        self.sum_axial_out = sum_axial_out
        orders = []
        for axis in range(1, rank):  # the attended axis, before the features
            if axis != self.dim_index:
                rest = [a for a in range(rank) if a not in (axis, self.dim_index)]
                orders.append([*rest, axis, self.dim_index])
        self.axial_attentions = nn.ModuleList(
            [_AlongAxis(o, _HeadsAttention(dim, heads, dim_heads)) for o in orders])

    def forward(self, x):
        assert x.dim() == self.rank and x.shape[self.dim_index] == self.dim
        if self.sum_axial_out:
            return sum(attend(x) for attend in self.axial_attentions)
        for attend in self.axial_attentions:
            x = attend(x)
        return x
