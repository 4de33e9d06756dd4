"""MUSE: multi-head attention beside depthwise-pointwise convolutions of its values
(reference)."""
import torch
from torch import nn

from .attention import ScaledDotProductAttention, _attend


class DepthPointwiseConv1d(nn.Module):
    """A depthwise conv of odd kernel k over the sequence (an Identity for k = 1), then a
    1x1 conv from in_ch to out_ch channels: (b, in_ch, n) -> (b, out_ch, n)."""

    def __init__(self, in_ch, out_ch, k):
        super().__init__()
        self.depth_conv = nn.Identity() if k == 1 else nn.Conv1d(
            in_ch, in_ch, kernel_size=k, groups=in_ch, padding=k // 2)
        self.pointwise_conv = nn.Conv1d(in_ch, out_ch, kernel_size=1)

    def forward(self, x):
        return self.pointwise_conv(self.depth_conv(x))


class MUSEAttention(ScaledDotProductAttention):
    """queries (b, n, d_model), keys/values (b, n, d_model) -> (b, n, d_model): the
    attention's output plus the three convolution branches of v, weighted by
    softmax(dy_paras)."""

    def __init__(self, d_model, d_k, d_v, h, dropout=0.1):
        super().__init__(d_model, d_k, d_v, h, dropout)
        self.conv1 = DepthPointwiseConv1d(h * d_v, d_model, 1)
        self.conv3 = DepthPointwiseConv1d(h * d_v, d_model, 3)
        self.conv5 = DepthPointwiseConv1d(h * d_v, d_model, 5)
        self.dy_paras = nn.Parameter(torch.ones(3))

    def branch_weights(self):
        return torch.softmax(self.dy_paras, -1)

    def forward(self, queries, keys, values, attention_mask=None, attention_weights=None):
        q, k, v = self.heads(queries, keys, values)
        out = self.joined(_attend(q, k, v, self.d_k, attention_mask, attention_weights,
                                  self.dropout))
        b, nk = keys.shape[:2]
        v2 = v.permute(0, 1, 3, 2).reshape(b, self.h * self.d_v, nk)  # (b, h*d_v, nk)
        w = self.branch_weights()
        convs = w[0] * self.conv1(v2) + w[1] * self.conv3(v2) + w[2] * self.conv5(v2)
        return out + convs.permute(0, 2, 1)


class MUSEAttentionRewrapsWeights(MUSEAttention):
    """As the original: each forward replaces dy_paras by a new Parameter holding its
    softmax, and weighs the branches by that (so the second call applies softmax twice)."""

    def branch_weights(self):
        self.dy_paras = nn.Parameter(torch.softmax(self.dy_paras, -1))
        return self.dy_paras
