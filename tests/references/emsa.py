"""EMSA, ResT's efficient multi-head self-attention (reference, External-Attention-pytorch's
EMSA).

EMSA follows the paper's attention: attention_mask sets the masked scores to -inf before
the softmax (after the heads' 1x1 conv with apply_transform). EMSAMaskAfterSoftmax
behaves as the original does, filling -inf into the attention after the softmax and the
weights: tests/test_ea_differences.py shows where the two differ.
"""
import math

import torch
from torch import nn


class EMSA(nn.Module):
    """queries (b, nq, d_model) -> (b, nq, d_model). With ratio > 1 keys and values come
    from the queries folded into an (H, W) map and shrunk by a depthwise conv of stride
    ratio; otherwise from keys and values (b, nk, d_model)."""

    mask_after_softmax = False

    def __init__(self, d_model, d_k, d_v, h, dropout=.1, H=7, W=7, ratio=3,
                 apply_transform=True):
        super().__init__()
        self.H, self.W = H, W
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)
        self.ratio = ratio
        if ratio > 1:
            self.sr_conv = nn.Conv2d(d_model, d_model, kernel_size=ratio + 1, stride=ratio,
                                     padding=ratio // 2, groups=d_model)
            self.sr_ln = nn.LayerNorm(d_model)
        self.apply_transform = apply_transform and h > 1
        if self.apply_transform:
            self.transform = nn.Sequential()
            self.transform.add_module("conv", nn.Conv2d(h, h, kernel_size=1))
            self.transform.add_module("softmax", nn.Softmax(-1))
            self.transform.add_module("in", nn.InstanceNorm2d(h))
        self.d_k, self.d_v, self.h = d_k, d_v, h
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.001)
                nn.init.zeros_(m.bias)

    def _heads(self, x, d):
        """(b, n, h * d) -> (b, h, n, d)."""
        b, n, _ = x.shape
        return x.reshape(b, n, self.h, d).transpose(1, 2)

    def forward(self, queries, keys, values, attention_mask=None, attention_weights=None):
        b, nq, c = queries.shape
        q = self._heads(self.fc_q(queries), self.d_k)
        if self.ratio > 1:
            grid = queries.transpose(1, 2).reshape(b, c, self.H, self.W)
            tokens = self.sr_ln(self.sr_conv(grid).flatten(2).transpose(1, 2))
            keys = values = tokens
        k = self._heads(self.fc_k(keys), self.d_k)
        v = self._heads(self.fc_v(values), self.d_v)
        att = q @ k.transpose(2, 3) / math.sqrt(self.d_k)  # (b, h, nq, nk or h_r * w_r)
        if self.apply_transform:
            att = self.transform.conv(att)
        if attention_mask is not None and not self.mask_after_softmax:
            att = att.masked_fill(attention_mask, float("-inf"))
        att = torch.softmax(att, -1)
        if self.apply_transform:
            att = getattr(self.transform, "in")(att)
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None and self.mask_after_softmax:
            att = att.masked_fill(attention_mask, float("-inf"))
        att = self.dropout(att)
        out = (att @ v).transpose(1, 2).reshape(b, nq, self.h * self.d_v)
        return self.fc_o(out)


class EMSAMaskAfterSoftmax(EMSA):
    """The original's masking: -inf written into the attention after the softmax."""

    mask_after_softmax = True
