"""External attention: two linear memories with double normalisation (reference,
External-Attention-pytorch's ExternalAttention)."""
from torch import nn


class ExternalAttention(nn.Module):
    """(B, N, d_model) -> (B, N, d_model) through S memory units.

    The affinities (B, N, S) get a softmax over the tokens, then each token's row is
    divided by its sum over the memory units.
    """

    def __init__(self, d_model, S=64):
        super().__init__()
        self.mk = nn.Linear(d_model, S, bias=False)
        self.mv = nn.Linear(S, d_model, bias=False)
        self.softmax = nn.Softmax(dim=1)
        for layer in (self.mk, self.mv):
            nn.init.normal_(layer.weight, std=0.001)

    def forward(self, queries):
        affinity = self.softmax(self.mk(queries))  # over N
        affinity = affinity / affinity.sum(dim=-1, keepdim=True)  # over S
        return self.mv(affinity)
