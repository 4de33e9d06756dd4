"""Bi-level routing attention (reference): BiFormer's NCHW version (nchwBRA) with its
regional routing attention in plain PyTorch, the authors' algorithm step by step (zero
padding to whole regions included, which the spec leaves out: it states whole regions)."""
import torch
import torch.nn.functional as F
from torch import nn


def _to_regions(x, region, heads):
    """(B, C, H, W) -> (B, heads, regions, tokens of a region, C // heads); the regions'
    counts along H and W."""
    b, c, h, w = x.shape
    rows, cols = h // region[0], w // region[1]
    x = x.view(b, heads, c // heads, rows, region[0], cols, region[1])
    return torch.einsum("bmdhpwq->bmhwpqd", x).flatten(2, 3).flatten(-3, -2), rows, cols


def _from_regions(x, rows, cols, region):
    """The inverse of _to_regions: (B, heads, regions, tokens, d) -> (B, heads * d, H, W)."""
    b, heads, _, _, d = x.shape
    x = x.view(b, heads, rows, cols, region[0], region[1], d)
    return torch.einsum("bmhwpqd->bmdhpwq", x).reshape(b, heads * d, rows * region[0],
                                                       cols * region[1])


def regional_routing_attention(query, key, value, scale, region_graph, region_size):
    """Each region's queries attend to the tokens of the regions region_graph names
    ((B, heads, regions, topk)); inputs padded with zeros to whole regions first."""
    _, heads, _, topk = region_graph.shape
    _, _, hq, wq = query.shape
    pad_b = (region_size[0] - hq % region_size[0]) % region_size[0]
    pad_r = (region_size[1] - wq % region_size[1]) % region_size[1]
    if pad_b or pad_r:
        query, key, value = (F.pad(t, (0, pad_r, 0, pad_b)) for t in (query, key, value))
    query, rows, cols = _to_regions(query, region_size, heads)
    key, _, _ = _to_regions(key, region_size, heads)
    value, _, _ = _to_regions(value, region_size, heads)
    b, _, n_regions, tokens, d = key.shape
    index = region_graph.view(b, heads, query.size(2), topk, 1, 1).expand(
        -1, -1, -1, -1, tokens, d)
    every = (b, heads, query.size(2), n_regions, tokens, d)
    key_g = torch.gather(key.view(b, heads, 1, n_regions, tokens, d).expand(*every), 3, index)
    value_g = torch.gather(value.view(b, heads, 1, n_regions, tokens, d).expand(*every), 3,
                           index)
    attn = (query * scale) @ key_g.flatten(-3, -2).transpose(-1, -2)
    attn = torch.softmax(attn, dim=-1)
    out = _from_regions(attn @ value_g.flatten(-3, -2), rows, cols, region_size)
    return out[:, :, :hq, :wq] if pad_b or pad_r else out


class BiLevelRoutingAttention(nn.Module):
    """nchwBRA: 1x1-conv q, k, v; regions routed by their mean queries and keys (detached);
    token attention within the routed regions; plus a depthwise conv of v (LCE)."""

    def __init__(self, dim, num_heads=8, n_win=7, qk_scale=None, topk=4, side_dwconv=3):
        super().__init__()
        assert dim % num_heads == 0
        self.dim, self.num_heads = dim, num_heads
        self.scale = qk_scale or dim ** -0.5  # dim, not the head's: as the original
        if side_dwconv > 0:
            self.lepe = nn.Conv2d(dim, dim, kernel_size=side_dwconv, stride=1,
                                  padding=side_dwconv // 2, groups=dim)
        else:
            self.lepe = torch.zeros_like
        self.topk, self.n_win = topk, n_win
        self.qkv_linear = nn.Conv2d(dim, 3 * dim, kernel_size=1)
        self.output_linear = nn.Conv2d(dim, dim, kernel_size=1)

    def forward(self, x):
        _, _, h, w = x.shape
        region = (h // self.n_win, w // self.n_win)
        q, k, v = self.qkv_linear(x).chunk(3, dim=1)
        q_r = F.avg_pool2d(q.detach(), kernel_size=region, ceil_mode=True,
                           count_include_pad=False)
        k_r = F.avg_pool2d(k.detach(), kernel_size=region, ceil_mode=True,
                           count_include_pad=False)
        a_r = q_r.permute(0, 2, 3, 1).flatten(1, 2) @ k_r.flatten(2, 3)
        _, idx_r = torch.topk(a_r, k=self.topk, dim=-1)
        idx_r = idx_r.unsqueeze(1).expand(-1, self.num_heads, -1, -1)
        out = regional_routing_attention(q, k, v, self.scale, idx_r, region)
        return self.output_linear(out + self.lepe(v))
