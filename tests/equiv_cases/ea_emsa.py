"""EMSA (External-Attention-pytorch, issue 14): ResT's attention with keys and values from
a shrunk map (ratio > 1) or from the inputs (ratio 1), with and without the heads' 1x1
transform, on non-square maps, with batch > 1; some rows pass attention_mask (never a
whole row) and attention_weights over the keys attended to.
"""
import torch

_EMSA = ("emsa", "EMSA", "emsa:EMSA")


def _reduced(size, ratio):
    """The side of the map after the stride-ratio conv (kernel ratio + 1, padding ratio // 2)."""
    return (size + 2 * (ratio // 2) - ratio - 1) // ratio + 1


def _inputs(b, nq, nk, d_model, h, n_att, mask=False, weights=False):
    """queries (b, nq, d), keys and values (b, nk, d), then mask / weights over
    (b, h, nq, n_att)."""
    def make():
        out = [torch.randn(b, nq, d_model), torch.randn(b, nk, d_model),
               torch.randn(b, nk, d_model)]
        if mask or weights:
            masked = torch.rand(b, h, nq, n_att) < 0.3
            masked[..., 0] = False  # every query keeps at least one key
            out.append(masked if mask else None)
        if weights:
            out.append(0.5 + torch.rand(b, h, nq, n_att))
        return tuple(out)
    return make


def _reducing(b, d_model, h, H, W, ratio, nk=4, **extra):
    """Inputs for ratio > 1: nq = H * W queries; keys and values of another length
    (unused)."""
    return _inputs(b, H * W, nk, d_model, h, _reduced(H, ratio) * _reduced(W, ratio), **extra)


CASES = [
    # the original's defaults but d_model: ratio 3, apply_transform, a 7 x 7 map
    (*_EMSA, (16, 8, 8, 4), {}, _reducing(2, 16, 4, 7, 7, 3)),
    # non-square map, mask and weights over the h_r * w_r = 2 * 1 reduced keys
    (*_EMSA, (16, 8, 6, 4), {"H": 5, "W": 3}, _reducing(2, 16, 4, 5, 3, 3, mask=True,
                                                        weights=True)),
    # an even ratio without the transform, batch 3
    (*_EMSA, (12, 4, 5, 3), {"H": 4, "W": 6, "ratio": 2, "apply_transform": False},
     _reducing(3, 12, 3, 4, 6, 2, nk=9, mask=True)),
    (*_EMSA, (8, 4, 4, 2), {"H": 8, "W": 5, "ratio": 4, "dropout": 0.2},
     _reducing(2, 8, 2, 8, 5, 4, weights=True)),
    # ratio 1: keys and values of their own length
    (*_EMSA, (16, 8, 6, 4), {"ratio": 1}, _inputs(2, 5, 7, 16, 4, 7, mask=True)),
    (*_EMSA, (12, 6, 4, 2), {"ratio": 1, "apply_transform": False},
     _inputs(3, 6, 3, 12, 2, 3, mask=True, weights=True)),
    # one head: no transform whatever apply_transform says
    (*_EMSA, (10, 5, 5, 1), {"H": 3, "W": 2, "ratio": 2}, _reducing(2, 10, 1, 3, 2, 2)),
    # ratio is any int (ResT's are 1 to 8): 9 shrinks 10 x 12 to 1 x 2, 10 shrinks 11 x 21
    # to 2 x 3
    (*_EMSA, (8, 4, 4, 2), {"H": 10, "W": 12, "ratio": 9}, _reducing(2, 8, 2, 10, 12, 9)),
    (*_EMSA, (8, 4, 4, 2), {"H": 11, "W": 21, "ratio": 10, "apply_transform": False},
     _reducing(2, 8, 2, 11, 21, 10, mask=True, weights=True)),
]
