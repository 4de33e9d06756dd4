"""MUSEAttention (External-Attention-pytorch): attention plus depthwise-pointwise
convolutions of its values. As many queries as keys (the branches add up per position);
batch > 1; rows with a mask (never a whole row) and attention weights.
"""
import torch

_MUSE = ("muse_attention", "MUSEAttention", "muse:MUSEAttention")
COVERS = {"depth_pointwise_conv1d"}


def _inputs(b, n, d_model, h, mask=False, weights=False):
    def make():
        x = torch.randn(b, n, d_model)
        out = [x, torch.randn(b, n, d_model), torch.randn(b, n, d_model)]
        if mask or weights:
            masked = torch.rand(b, h, n, n) < 0.3
            masked[..., 0] = False  # every query keeps at least one key
            out.append(masked if mask else None)
        if weights:
            out.append(0.5 + torch.rand(b, h, n, n))
        return tuple(out)
    return make


CASES = [
    (*_MUSE, (16, 8, 8, 4), {}, _inputs(2, 7, 16, 4)),
    (*_MUSE, (12, 4, 6, 3), {"dropout": 0.0}, _inputs(3, 5, 12, 3, mask=True, weights=True)),
    (*_MUSE, (8, 8, 4, 1), {}, _inputs(2, 1, 8, 1)),  # one token: the convs see zeros around it
]
