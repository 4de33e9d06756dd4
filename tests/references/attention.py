"""Multi-head scaled dot-product attention (reference)."""
import math

import torch
from torch import nn


def _init_linears(module):
    """Every Linear: weight ~ N(0, 0.001**2), bias = 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)


def _attend(q, k, v, d_k, attention_mask, attention_weights, dropout):
    """q: (b, h, nq, d_k), k: (b, h, d_k, nk), v: (b, h, nk, d_v) -> (b, h, nq, d_v)."""
    att = torch.matmul(q, k) / math.sqrt(d_k)  # (b, h, nq, nk)
    if attention_weights is not None:
        att = att * attention_weights
    if attention_mask is not None:
        att = att.masked_fill(attention_mask, float("-inf"))  # True = masked out
    att = torch.softmax(att, -1)
    att = dropout(att)
    return torch.matmul(att, v)


class ScaledDotProductAttention(nn.Module):
    """Projected multi-head attention.

    queries (b, nq, d_model), keys/values (b, nk, d_model) -> (b, nq, d_model).
    attention_mask (bool, True = masked) and attention_weights (multiplicative)
    broadcast against (b, h, nq, nk).
    """

    def __init__(self, d_model, d_k, d_v, h, dropout=0.1):
        super().__init__()
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)
        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h
        _init_linears(self)

    def heads(self, queries, keys, values):
        """q (b, h, nq, d_k), k (b, h, d_k, nk), v (b, h, nk, d_v)."""
        b, nq = queries.shape[:2]
        nk = keys.shape[1]
        q = self.fc_q(queries).view(b, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        k = self.fc_k(keys).view(b, nk, self.h, self.d_k).permute(0, 2, 3, 1)
        v = self.fc_v(values).view(b, nk, self.h, self.d_v).permute(0, 2, 1, 3)
        return q, k, v

    def joined(self, out):
        """(b, h, nq, d_v) -> fc_o of the heads side by side, (b, nq, d_model)."""
        b, _, nq, _ = out.shape
        return self.fc_o(out.permute(0, 2, 1, 3).reshape(b, nq, self.h * self.d_v))

    def forward(self, queries, keys, values, attention_mask=None, attention_weights=None):
        q, k, v = self.heads(queries, keys, values)
        out = _attend(q, k, v, self.d_k, attention_mask, attention_weights, self.dropout)
        return self.joined(out)


class SimplifiedScaledDotProductAttention(nn.Module):
    """Attention without q/k/v projections: inputs are split into h heads of
    d_model // h features directly; only the output projection is learned."""

    def __init__(self, d_model, h, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.d_k = d_model // h
        self.d_v = d_model // h
        self.h = h
        self.fc_o = nn.Linear(h * self.d_v, d_model)
        self.dropout = nn.Dropout(dropout)
        _init_linears(self)

    def forward(self, queries, keys, values, attention_mask=None, attention_weights=None):
        b, nq = queries.shape[:2]
        nk = keys.shape[1]
        q = queries.reshape(b, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        k = keys.reshape(b, nk, self.h, self.d_k).permute(0, 2, 3, 1)
        v = values.reshape(b, nk, self.h, self.d_v).permute(0, 2, 1, 3)
        out = _attend(q, k, v, self.d_k, attention_mask, attention_weights, self.dropout)
        out = out.permute(0, 2, 1, 3).reshape(b, nq, self.h * self.d_v)
        return self.fc_o(out)
