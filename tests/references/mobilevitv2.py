"""MobileViTv2's separable self-attention (reference, External-Attention-pytorch's
MobileViTv2Attention)."""
import torch
from torch import nn


class MobileViTv2Attention(nn.Module):
    """(B, N, d_model) -> same: a softmax over the tokens of one score each pools the keys
    into a context vector that scales every value."""

    def __init__(self, d_model):
        super().__init__()
        self.fc_i = nn.Linear(d_model, 1)
        self.fc_k = nn.Linear(d_model, d_model)
        self.fc_v = nn.Linear(d_model, d_model)
        self.fc_o = nn.Linear(d_model, d_model)
        self.d_model = d_model
        for layer in (self.fc_i, self.fc_k, self.fc_v, self.fc_o):
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)

    def forward(self, input):  # the original names it input
        scores = torch.softmax(self.fc_i(input), dim=1)  # (B, N, 1)
        context = (scores * self.fc_k(input)).sum(dim=1, keepdim=True)  # (B, 1, d_model)
        return self.fc_o(self.fc_v(input) * context)
