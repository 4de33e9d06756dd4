"""UFO attention (reference, External-Attention-pytorch's UFOAttention).

XNorm scales each row of a tensor to unit L2 length and multiplies it by a per-head gamma;
it normalises the queries and the product K^T V, computed first so that the cost is
linear in the number of tokens. No softmax, no epsilon.
"""
import torch
from torch import nn


def xnorm(t, gamma):
    """gamma * t / ||t||, the norm over the last dim."""
    return gamma * (t / t.square().sum(dim=-1, keepdim=True).sqrt())


class UFOAttention(nn.Module):
    """queries (B, nq, d_model), keys and values (B, nk, d_model) -> (B, nq, d_model)."""

    def __init__(self, d_model, d_k, d_v, h, dropout=.1):
        super().__init__()
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)  # as in the original: never called
        self.gamma = nn.Parameter(torch.randn(1, h, 1, 1))
        self.heads = h
        for layer in (self.fc_q, self.fc_k, self.fc_v, self.fc_o):
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)

    def split_heads(self, t):
        """(B, n, heads * d) -> (B, heads, n, d)."""
        b, n, _ = t.shape
        return t.reshape(b, n, self.heads, -1).transpose(1, 2)

    def forward(self, queries, keys, values):
        q = self.split_heads(self.fc_q(queries))
        k = self.split_heads(self.fc_k(keys))
        v = self.split_heads(self.fc_v(values))
        kv = torch.einsum("bhnk,bhnv->bhkv", k, v)  # (B, heads, d_k, d_v)
        out = xnorm(q, self.gamma) @ xnorm(kv, self.gamma)  # (B, heads, nq, d_v)
        b, _, nq, _ = out.shape
        return self.fc_o(out.transpose(1, 2).reshape(b, nq, -1))
