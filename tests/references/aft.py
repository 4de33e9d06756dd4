"""AFT-full, the attention free transformer (reference, External-Attention-pytorch's AFT_FULL).

Written in the paper's factored form: with E = exp(w) (n x n) and exp(k) (B, n, d),
numerator = E @ (exp(k) * v) and denominator = E @ exp(k), one matmul each. Like the
original it exponentiates without subtracting a maximum, so it overflows (inf / inf = NaN)
where k + w passes about 88 in float32; the generated module takes the same matmuls of a
softmax of k and one of w (each shifted by its maximum), equal where these are finite
(tests/test_ea_differences.py shows both).
"""
import torch
from torch import nn


class AFT_FULL(nn.Module):  # noqa: N801  (the original's class name)
    """(B, n, d_model) -> (B, n, d_model). With simple, no position biases (AFT-simple)."""

    def __init__(self, d_model, n=49, simple=False):
        super().__init__()
        self.fc_q = nn.Linear(d_model, d_model)
        self.fc_k = nn.Linear(d_model, d_model)
        self.fc_v = nn.Linear(d_model, d_model)
        self.simple = simple
        if not simple:
            self.position_biases = nn.Parameter(torch.ones(n, n))
        self.sigmoid = nn.Sigmoid()
        for layer in (self.fc_q, self.fc_k, self.fc_v):
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)

    def forward(self, input):  # noqa: A002  (the original's argument name)
        n = input.shape[1]
        k_exp = torch.exp(self.fc_k(input))
        v = self.fc_v(input)
        # simple: every output token sees the keys with equal biases
        bias_exp = input.new_ones(n, n) if self.simple else torch.exp(self.position_biases)
        numerator = bias_exp @ (k_exp * v)
        denominator = bias_exp @ k_exp
        return self.sigmoid(self.fc_q(input)) * numerator / denominator
