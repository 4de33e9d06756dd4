"""`drop_path` (ops/stochastic.py), stochastic depth, against a hand-written one made as
timm's is (a per-sample `bernoulli_` on a `new_empty` mask, divided by the keep probability
where that is above 0): the same values in training under one seed, the same random numbers
drawn (none at p 0), the identity in eval mode; a probability given as a param; wrong uses
are located errors."""

from __future__ import annotations

import attngen
import pytest
from attngen.errors import SpecError

torch = pytest.importorskip("torch")

SPEC = """\
name: T
params:
  d: 4
  rate: 0.3
  scale: true
inputs:
  x: [B, N, d]
graph:
  y: NODE
outputs: y
"""


def reference(x, p, training=True, scale_by_keep=True):
    """Stochastic depth as timm computes it, written out here."""
    if p == 0 or not training:
        return x
    keep = 1 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    if keep > 0 and scale_by_keep:
        mask.div_(keep)
    return x * mask


def module(tmp_path, node: str, **params):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("NODE", node))
    return attngen.compile(str(path))(**params)


CASES = [  # node, the module's params, the reference's p and scale_by_keep
    ("{op: drop_path, p: 0.25, in: x}", {}, 0.25, True),
    ("{op: drop_path, p: 0.5, scale_by_keep: false, in: x}", {}, 0.5, False),
    ("{op: drop_path, p: 1.0, in: x}", {}, 1.0, True),
    ("{op: drop_path, p: 0.0, in: x}", {}, 0.0, True),
    ("{op: drop_path, p: rate, in: x}", {}, 0.3, True),
    ("{op: drop_path, p: rate, in: x}", {"rate": 1.0}, 1.0, True),
    ("{op: drop_path, p: rate, in: x}", {"rate": 0.0}, 0.0, True),
    ("{op: drop_path, p: rate, scale_by_keep: scale, in: x}", {"scale": False}, 0.3, False),
    ("{op: drop_path, p: rate, scale_by_keep: scale, in: x}", {}, 0.3, True),
]


@pytest.mark.parametrize("node, params, p, scale", CASES,
                         ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_drop_path_is_timms_in_training_and_the_identity_in_eval(tmp_path, node, params, p,
                                                                 scale):
    generated = module(tmp_path, node, **params)
    x = torch.randn(64, 3, 4)
    torch.manual_seed(7)
    got = generated(x)
    after = torch.rand(1)  # the generator's state after: the same draws were made
    torch.manual_seed(7)
    want = reference(x, p, scale_by_keep=scale)
    assert torch.equal(got, want) and torch.equal(torch.rand(1), after)
    assert not got.isnan().any()
    if 0 < p < 1:  # some samples dropped, the others scaled (or not)
        dropped = (got == 0).flatten(1).all(1)
        assert 0 < int(dropped.sum()) < 64
        kept = got[~dropped] / x[~dropped]
        assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - p) if scale else 1.0))
    generated.eval()
    assert generated(x) is x or torch.equal(generated(x), x)


def test_a_probability_outside_0_to_1_is_a_located_error(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("NODE", "{op: drop_path, p: 1.5, in: x}"))
    with pytest.raises(SpecError) as info:
        attngen.load(str(path))
    first = info.value.diagnostics[0]
    assert (first.code, first.loc.line, first.loc.col) == ("E402", 9, 25)
    assert "drop_path's 'p' is 1.5" in first.message and "from 0 to 1" in first.message
    path.write_text(SPEC.replace("NODE", "{op: drop_path, in: x}"))
    with pytest.raises(SpecError, match="drop_path needs argument 'p'"):
        attngen.load(str(path))


def test_gfnet_blocks_drop_path_draws_as_the_original_in_training():
    """GFNetBlock with stochastic depth (and MLP dropout) in training mode: under one seed,
    the generated block and the original (timm's DropPath, written out in the reference)
    give the same output and gradients: the same draws in the same order."""
    from equivalence import load_generated
    from references.gfnet import GFNetBlock

    generated_cls = load_generated("gfnet_block").GFNetBlock
    kwargs = {"drop": 0.1, "drop_path": 0.5, "h": 4, "w": 3}
    torch.manual_seed(0)
    original = GFNetBlock(6, **kwargs).double().train()
    generated = generated_cls(6, **kwargs).double().train()
    generated.load_state_dict(original.state_dict())
    x = torch.randn(16, 16, 6, dtype=torch.float64, requires_grad=True)
    outs, grads = [], []
    for block in (original, generated):
        torch.manual_seed(3)
        out = block(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
        outs.append(out)
        grads.append(grad)
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])
    dropped = (outs[1] == x).flatten(1).all(1)  # the branch dropped: the input passes
    assert 0 < int(dropped.sum()) < 16
