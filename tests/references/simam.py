"""SimAM: parameter-free, energy-based attention (reference, External-Attention-pytorch's
SimAM)."""
import torch
from torch import nn


class SimAM(nn.Module):
    """Each activation is gated by sigmoid(distance^2 / (4 * (variance + e_lambda)) + 0.5),
    distance from its channel's spatial mean, variance over H*W - 1 (NaN on a 1x1 map).

    (B, C, H, W) -> same. `channels` is accepted and ignored, as in the original.
    """

    def __init__(self, channels=None, e_lambda=1e-4):
        super().__init__()
        self.activaton = nn.Sigmoid()  # the original's attribute name
        self.e_lambda = e_lambda

    def forward(self, x):
        count = x.shape[2] * x.shape[3] - 1
        sq_dist = torch.square(x - x.mean(dim=(2, 3), keepdim=True))
        variance = sq_dist.sum(dim=(2, 3), keepdim=True) / count
        energy = sq_dist / (4 * (variance + self.e_lambda)) + 0.5
        return x * self.activaton(energy)
