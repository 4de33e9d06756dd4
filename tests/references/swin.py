"""Swin's window attention as MOAT's copy in External-Attention-pytorch has it, with the
optional mask of Swin's shifted windows (its original's `forward(x, mask=None)`) (reference):
the relative position index built the original's way (per-axis offsets shifted to start at
0, the row offset scaled by the row width of the table, summed), the bias read through it,
scores scaled on the queries. State_dict keys are the original's
(`relative_position_bias_table`, `relative_position_index`, `qkv`, `proj`)."""
import torch
from torch import nn


def swin_index(wh, ww):
    grid = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij"))
    flat = grid.flatten(1)  # (2, wh * ww)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    return rel.sum(-1)


class WindowAttention(nn.Module):
    def __init__(self, dim, window_size, num_heads, qkv_bias=True, qk_scale=None,
                 attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer("relative_position_index", swin_index(wh, ww))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x, mask=None):
        b, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        scores = q @ k.transpose(-2, -1)
        area = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        scores = scores + bias.view(area, area, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:  # Swin's shifted windows: the windows of an image together
            windows = mask.shape[0]
            scores = scores.view(b // windows, windows, heads, n, n) + mask[None, :, None]
            scores = scores.view(-1, heads, n, n)
        weights = self.attn_drop(scores.softmax(dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))
