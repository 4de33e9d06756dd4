"""topk and gather (ops/selection.py), routing attention's two steps, against torch: a
region router (each query region's top k key regions, their tokens gathered) built and
run equals the same steps by hand; topk's indices are int for the checker (a dtype per
output) and at run time; wrong uses are located errors whose fixes work when pasted."""

from __future__ import annotations

import attngen
import pytest
from attngen import ops, verify
from attngen.cli import main
from attngen.ops.base import Dtypes, Op, PluginError, register

torch = pytest.importorskip("torch")

ROUTER = """\
name: Router
params:
  c: 8
  topk: 2
requires: [n >= topk]
inputs:
  q: [B, n, c]
  kv: [B, n, w, c]
graph:
  kt:       {op: transpose, in: q, dim0: 1, dim1: 2, shape: [B, c, n]}
  logits:   {op: matmul, in: [q, kt], shape: [B, n, n]}
  top:      {op: topk, in: logits, k: topk, out: [vals, idx],
             shape: [[B, n, topk], [B, n, topk]]}
  kv_all:   {op: unsqueeze, in: kv, dim: 1, shape: [B, 1, n, w, c]}
  kv_wide:  {op: expand, in: kv_all, sizes: [-1, n, -1, -1, -1], shape: [B, n, n, w, c]}
  idx5:     {op: view, in: idx, to: [B, n, topk, 1, 1]}
  idx_wide: {op: expand, in: idx5, sizes: [-1, -1, -1, w, c], shape: [B, n, topk, w, c]}
  picked:   {op: gather, in: [kv_wide, idx_wide], dim: 2, shape: [B, n, topk, w, c]}
outputs: [vals, idx, picked]
"""


def test_a_router_of_topk_and_gather_is_torchs(tmp_path):
    (tmp_path / "router.yaml").write_text(ROUTER)
    loaded = attngen.load(str(tmp_path / "router.yaml"))
    checked = loaded.checked
    assert [checked.value(n).dtype for n in ("vals", "idx", "picked")] == \
        ["float", "int", "float"]  # a dtype per output: topk's indices are int
    q, kv = torch.randn(3, 5, 8), torch.randn(3, 5, 4, 8)
    vals, idx, picked = loaded.compile()()(q, kv)
    want_vals, want_idx = torch.topk(q @ q.transpose(1, 2), 2, dim=-1)
    torch.testing.assert_close(vals, want_vals)
    assert idx.dtype == torch.long and torch.equal(idx, want_idx)
    for b in range(3):  # each query region's two key regions, all their tokens
        for i in range(5):
            torch.testing.assert_close(picked[b, i], kv[b, want_idx[b, i]])
    # shapes and dtype families (int indices) as checked, at the sizes verify draws
    assert not verify.verify(loaded.checked, n_samples=4, export=False).errors


def _errors(tmp_path, capsys, text: str) -> str:
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    return capsys.readouterr().err


def test_topk_asks_for_the_size_it_keeps(tmp_path, capsys):
    text = ROUTER.replace("requires: [n >= topk]\n", "")
    err = _errors(tmp_path, capsys, text)
    assert "error[E404]" in err and "topk's k (at most the size of dim 2) needs n >= topk" in err
    fix = next(n for n in err.splitlines() if "state it: requires:" in n).split("state it: ")[1]
    (tmp_path / "t.yaml").write_text(ROUTER.replace("requires: [n >= topk]", fix))
    assert main(["check", str(tmp_path / "t.yaml")]) == 0


@pytest.mark.parametrize("node, message", [
    ("{op: gather, in: [kv_wide, vals], dim: 2}",
     "E402]: node 'bad': gather takes int tensors as input 1, not float ones"),
    ("{op: gather, in: [kv_wide, idx], dim: 2}",
     "E403]: node 'bad': gather's index must have the input's 5 dims, got 3"),
    ("{op: gather, in: [kv_all, idx_wide], dim: 2}",
     "E404]: node 'bad': gather's input dim 1 (at least the index's) needs n <= 1"),
])
def test_gather_refuses_what_torch_refuses(tmp_path, capsys, node, message):
    err = _errors(tmp_path, capsys, ROUTER.replace("outputs:", f"  bad: {node}\noutputs:"))
    assert message in err, err


def test_dtypes_per_output_are_declared_for_each_output():
    with pytest.raises(PluginError, match="dtypes per output, but one output"):
        register(Op("one_out", "attention", (), lambda ctx, ins, a: ins[0], call="x",
                    rule="-", summary="-", dtype=Dtypes(outputs=("same", "int"))))
    with pytest.raises(PluginError, match="output dtype 'long', not a dtype family"):
        register(Op("two_out", "attention", (), lambda ctx, ins, a: [ins[0], ins[0]],
                    call="x", rule="-", summary="-", multi_output=True,
                    dtype=Dtypes(outputs=("same", "long"))))
    assert "one_out" not in ops.REGISTRY and "two_out" not in ops.REGISTRY
    assert ops.REGISTRY["topk"].dtype.text == "int|float -> same, int"


def test_a_list_of_outputs_shows_each_ones_dtype(tmp_path, capsys):
    """topk without `out:` is one list value: its int indices stay int in the check table
    and the generated docstring (a list's shape was shown once for all its items)."""
    spec = tmp_path / "pair.yaml"
    spec.write_text("name: Pair\nrequires: [n >= 2]\ninputs:\n  x: [B, n]\ngraph:\n"
                    "  y: {op: topk, in: x, k: 2}\noutputs: y\n")
    assert main(["check", str(spec)]) == 0
    assert "[(B, 2), (B, 2) int]" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["build", "--no-svg", "--no-cache", str(spec), "-o", str(out)]) == 0
    assert "returns y: [(B, 2), (B, 2) int]" in (out / "pair.py").read_text()
