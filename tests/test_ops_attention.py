"""The `attention` op (ops/attention.py) against torch: a spec of one node, built and run on
concrete sizes; its shape and dtype the checker's, its values softmax(q k^T * scale + mask) v
written out by hand, dropout only in training mode; wrong uses are located errors."""

from __future__ import annotations

import attngen
import pytest
from attngen import verify
from attngen.cli import main

torch = pytest.importorskip("torch")

SPEC = """\
name: T
params:
  e: 4
inputs:
  q: [B, h, L, e]
  k: KSHAPE
  v: [B, h, S, 6]
MASK
graph:
  y: NODE
outputs: y
"""


def spec_text(node, kshape="[B, h, S, e]", mask=""):
    return SPEC.replace("NODE", node).replace("KSHAPE", kshape).replace("MASK\n", mask)


def build(tmp_path, node, mask=""):
    path = tmp_path / "t.yaml"
    path.write_text(spec_text(node, mask=mask))
    loaded = attngen.load(str(path))
    report = verify.verify(loaded.checked, n_samples=2, export=False)  # random sizes too
    assert not report.errors, report.errors
    return loaded, loaded.compile()().double()


def by_hand(q, k, v, scale=None, mask=None, causal=False):
    scores = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5 if scale is None else scale)
    if causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, float("-inf"))
    elif mask is not None:
        scores = scores + mask
    return torch.softmax(scores, dim=-1) @ v


def qkv(L=3, S=5):
    torch.manual_seed(0)
    return (torch.randn(2, 3, L, 4, dtype=torch.float64),
            torch.randn(2, 3, S, 4, dtype=torch.float64),
            torch.randn(2, 3, S, 6, dtype=torch.float64))


@pytest.mark.parametrize("node, mask, make_mask, kwargs", [
    ("{op: attention, in: [q, k, v]}", "", None, {}),
    ("{op: attention, in: [q, k, v], scale: 0.3}", "", None, {"scale": 0.3}),
    ("{op: attention, in: [q, k, v], scale: e ** -1}", "", None, {"scale": 0.25}),
    ("{op: attention, in: [q, k, v], is_causal: true}", "", None, {"causal": True}),
    ("{op: attention, in: [q, k, v, m]}", "  m: {shape: [L, S], dtype: bool}\n",
     lambda: torch.rand(3, 5) > 0.4, {}),
    ("{op: attention, in: [q, k, v, m]}", "  m: [B, 1, L, S]\n",
     lambda: torch.randn(2, 1, 3, 5, dtype=torch.float64), {}),
])
def test_attention_is_torchs(tmp_path, node, mask, make_mask, kwargs):
    loaded, model = build(tmp_path, node, mask)
    ins = qkv()
    if make_mask is not None:
        m = make_mask()
        if m.dtype == torch.bool:
            m[..., 0] = True  # every query keeps a key
        ins = (*ins, m)
        kwargs = dict(kwargs, mask=m)
    got = model(*ins)
    torch.testing.assert_close(got, by_hand(*ins[:3], **kwargs))
    assert got.shape == (2, 3, 3, 6) and loaded.checked.nodes["y"].output.dtype == "float"
    assert "F.scaled_dot_product_attention(q, k, v" in loaded.source()


def test_dropout_applies_in_training_mode_only(tmp_path):
    loaded, model = build(tmp_path, "{op: attention, in: [q, k, v], dropout_p: 0.5}")
    assert "dropout_p=0.5 if self.training else 0.0" in loaded.source()
    q, k, v = qkv()
    torch.testing.assert_close(model.eval()(q, k, v), by_hand(q, k, v))
    model.train()
    torch.manual_seed(1)
    draws = torch.stack([model(q, k, v) for _ in range(400)])
    assert not torch.allclose(draws[0], draws[1])  # dropped weights differ between calls
    # in expectation the kept weights are scaled by 1 / (1 - p): the mean is eval's output
    torch.testing.assert_close(draws.mean(0), by_hand(q, k, v), atol=0.15, rtol=0)


def test_attention_is_listed(capsys):
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[1].split("(")[0] == "attention" for line in out.splitlines()
               if line.split())


@pytest.mark.parametrize("node, kshape, mask, message", [
    ("{op: attention, in: [q, k, v]}", "[B, h, S, 5]", "",
     "features of the queries (their last dim) is e but features of the keys"),
    ("{op: attention, in: [q, k, v]}", "[B, h, L, e]", "",
     "keys (second to last dim) is L but values (second to last dim) is S"),
    ("{op: attention, in: [q, k, v]}", "[h, S, e]", "",
     "queries, keys and values have 4, 3 and 4 dims"),
    ("{op: attention, in: [q, k, v]}", "[B, 2, S, e]", "", "dim 1 of the queries is h"),
    ("{op: attention, in: [q, k, v, m]}", "[B, h, S, e]", "  m: {shape: [L, L], dtype: bool}\n",
     "dim 1 of the mask is L but the scores' dim it broadcasts to is S"),
    ("{op: attention, in: [q, k, v, m], is_causal: true}", "[B, h, S, e]",
     "  m: {shape: [L, S], dtype: bool}\n", "is_causal takes no mask"),
    ("{op: attention, in: [q, k, v], dropout_p: 1.5}", "[B, h, S, e]", "",
     "'dropout_p' is 1.5 at the default sizes (must be from 0 to 1)"),
    ("{op: attention, in: [q, k, v, m]}", "[B, h, S, e]", "  m: {shape: [L, S], dtype: long}\n",
     "attention takes bool or float tensors as input 3"),
])
def test_a_wrong_use_is_a_located_error(tmp_path, capsys, node, kshape, mask, message):
    path = tmp_path / "t.yaml"
    path.write_text(spec_text(node, kshape, mask))
    code = main(["check", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "t.yaml:" in err, err
    assert message in err, err


@pytest.mark.parametrize("batch, mask, call", [
    ([], None, "q[None, None], k[None, None], v[None, None])[0, 0]"),
    (["B"], None, "q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)).squeeze(0)"),
    (["B"], ["B", "L", "S"], "attn_mask=m.unsqueeze(0)).squeeze(0)"),
    (["B", "G", "h"], None, "v.flatten(0, 1)).unflatten(0, q.shape[:2])"),
    (["B", "G", "h"], ["B", "G", "h", "L", "S"], "attn_mask=m.flatten(0, 1)).unflatten("),
    (["B", "G", "h"], [1, 1, 1, "L", "S"], "attn_mask=m.flatten(0, 1)).unflatten("),
    (["B", "G", "h"], ["h", "L", "S"], "attn_mask=m.unsqueeze(0)).unflatten("),
    (["B", "G", "h"], ["B", 1, "h", "L", "S"], "(q, k, v, attn_mask=m)"),  # as written
    (["B", "h"], ["h", "L", "S"], "attn_mask=m.unsqueeze(0))"),
])
def test_other_ranks_are_called_with_four_dims(tmp_path, batch, mask, call):
    """PyTorch's fused kernels take 4 dims: the call gives q, k, v and the mask four where
    that broadcasts as written, and the result its own dims back; the values are torch's."""
    dims = ", ".join(map(str, batch))
    lead = dims + ", " if dims else ""
    text = (f"name: T\ninputs:\n  q: [{lead}L, 4]\n  k: [{lead}S, 4]\n  v: [{lead}S, 6]\n"
            + (f"  m: {{shape: [{', '.join(map(str, mask))}], dtype: bool}}\n" if mask else "")
            + f"graph:\n  y: {{op: attention, in: [q, k, v{', m' if mask else ''}]}}\n"
            "outputs: y\n")
    path = tmp_path / "t.yaml"
    path.write_text(text)
    loaded = attngen.load(str(path))
    assert "".join(call.split()) in "".join(loaded.source().split()), loaded.source()
    model = loaded.compile()().double()
    sizes = {"B": 2, "G": 3, "h": 2, "L": 3, "S": 5, 1: 1}
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(*(sizes[d] for d in batch), n, f, generator=gen,
                           dtype=torch.float64) for n, f in ((3, 4), (5, 4), (5, 6)))
    if mask is None:
        torch.testing.assert_close(model(q, k, v), by_hand(q, k, v))
        return
    m = torch.rand(*(sizes[d] for d in mask), generator=gen) > 0.4
    m[..., 0] = True  # every query keeps a key
    torch.testing.assert_close(model(q, k, v, m), by_hand(q, k, v, mask=m))
