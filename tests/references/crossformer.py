"""CrossFormer's group attention (reference), as the public collection writes it: multi-head
self-attention inside each group of tokens, plus a bias per head and token pair that a
small MLP (DynamicPosBias) computes from the pair's relative offset, and an optional
Swin-style mask per group."""
import torch
from torch import nn


class DynamicPosBias(nn.Module):
    def __init__(self, dim, num_heads, residual):
        super().__init__()
        self.residual, self.pos_dim = residual, dim // 4
        self.pos_proj = nn.Linear(2, self.pos_dim)

        def block(out):
            return nn.Sequential(nn.LayerNorm(self.pos_dim), nn.ReLU(inplace=True),
                                 nn.Linear(self.pos_dim, out))

        self.pos1, self.pos2, self.pos3 = block(self.pos_dim), block(self.pos_dim), \
            block(num_heads)

    def forward(self, biases):
        pos = self.pos_proj(biases)
        if self.residual:
            pos = pos + self.pos1(pos)
            pos = pos + self.pos2(pos)
            return self.pos3(pos)
        return self.pos3(self.pos2(self.pos1(pos)))


class Attention(nn.Module):
    def __init__(self, dim, group_size, num_heads, qkv_bias=True, qk_scale=None,
                 attn_drop=0., proj_drop=0., position_bias=True):
        super().__init__()
        self.group_size, self.num_heads = group_size, num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.position_bias = position_bias
        wh, ww = group_size
        if position_bias:
            self.pos = DynamicPosBias(dim // 4, num_heads, residual=False)
            # every offset (dy, dx) two tokens of a group can have, row by row
            dy, dx = torch.meshgrid(torch.arange(1 - wh, wh), torch.arange(1 - ww, ww),
                                    indexing="ij")
            self.register_buffer("biases", torch.stack([dy.flatten(), dx.flatten()], 1).float())
            # the row of that table for each pair of tokens (i, j) of a group
            ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
            ys, xs = ys.flatten(), xs.flatten()
            rel_y = ys[:, None] - ys[None, :] + wh - 1
            rel_x = xs[:, None] - xs[None, :] + ww - 1
            self.register_buffer("relative_position_index", rel_y * (2 * ww - 1) + rel_x)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x, mask=None):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.position_bias:
            table = self.pos(self.biases)
            bias = table[self.relative_position_index.view(-1)].view(n, n, -1)
            attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            groups = mask.shape[0]
            attn = attn.view(b // groups, groups, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.num_heads, n, n)
        attn = self.attn_drop(self.softmax(attn))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(b, n, c)))
