"""Dims a node's `shape:` binds, read by forward (a size computed mid-graph: `shape: [B, c,
Hk, Wk]` after a strided conv, then `fill_value: 1.0 / Hk`): `check` passed and `build`
failed at 1:1 ("forward needs dim(s) Hk, Wk"); forward now unpacks them from the node's
value, and shapes print them by name."""

from __future__ import annotations

import attngen
import pytest
from attngen.cli import main

STRIDED = """\
name: Strided
params:
  c: {type: int, example: 8}
  stride: {default: 2}
inputs:
  x: [B, c, H, W]
graph:
  y: {op: Conv2d, args: [c, c, 3, stride, 1], in: x, shape: [B, c, Hk, Wk]}
  inv: {op: full, in: x, size: [1], fill_value: 1.0 / Hk}
  z: {op: reshape, in: y, to: [B, c, Hk * Wk]}
  out: {op: mul, in: [z, inv], shape: [B, c, Hk * Wk]}
outputs: out
"""


def test_forward_unpacks_a_dim_an_annotation_binds(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path = tmp_path / "strided.yaml"
    path.write_text(STRIDED)
    assert main(["check", str(path)]) == 0
    assert "y    Conv2d   (B, c, Hk, Wk)" in capsys.readouterr().out
    loaded = attngen.load(str(path))
    source = loaded.source()
    assert "        y = self.y(x)\n        _, _, Hk, Wk = y.shape\n" in source
    assert "# (B, c, Hk, Wk) -> (B, c, Hk*Wk)" in source
    for stride in (1, 2, 3):
        module = loaded.compile()(4, stride=stride)
        x = torch.randn(2, 4, 7, 5)
        y = module.y(x)
        want = y.reshape(2, 4, -1) / y.shape[2]
        torch.testing.assert_close(module(x), want)


def test_a_bound_dim_forward_does_not_read_is_not_unpacked(tmp_path):
    path = tmp_path / "strided.yaml"
    path.write_text(STRIDED.replace("fill_value: 1.0 / Hk", "fill_value: 0.5").replace(
        "to: [B, c, Hk * Wk]", "to: [B, c, -1]"))
    assert ".shape\n" not in attngen.load(str(path)).source().split("y = self.y(x)")[1][:40]


def test_outputs_of_a_split_and_a_conditional_node_bind_too(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "parts.yaml"
    path.write_text("""\
name: Parts
params:
  halve: {default: true}
inputs:
  x: [B, N]
graph:
  parts: {op: chunk, in: x, chunks: 2, dim: 1, out: [a, b], shape: [[B, n1], [B, n2]]}
  scaled: {op: mul, in: a, other: 1.0 / n1, when: halve}
  out: {cases: [{when: halve, op: identity, in: scaled}, {when: not halve, op: identity, in: b}]}
requires:
  - N % 2 == 0
outputs: out
""")
    source = attngen.load(str(path)).source()
    assert "a, b = torch.chunk(x, 2, dim=1)\n        _, n1 = a.shape\n" in source
    module = attngen.load(str(path)).compile()()
    x = torch.randn(3, 6)
    torch.testing.assert_close(module(x), x[:, :3] / 3)


@pytest.mark.parametrize(("dim", "message"), [
    ("z", "dim 'z' that the shape of node 'y' binds reuses the name of an input, node"),
    ("x", "dim 'x' that the shape of node 'y' binds reuses"),
    ("torch", "dim name 'torch' is reserved"),
])
def test_a_bound_dim_may_not_take_a_name_forward_binds(tmp_path, capsys, dim, message):
    """Found by a review: `_, _, z, _ = y.shape` then `z = y * 2.0` (output all ones)."""
    path = tmp_path / "named.yaml"
    path.write_text(STRIDED.replace("Hk", dim).replace("  out:", "  z: {op: mul, in: y, "
                                                                  "other: 2.0}\n  out:")
                    .replace("in: [z, inv]", "in: [zz, inv]").replace("  z: {op: reshape",
                                                                      "  zz: {op: reshape"))
    assert main(["check", "-q", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_a_bound_dim_of_a_list_is_refused_and_a_fused_binder_kept(tmp_path, capsys):
    path = tmp_path / "each.yaml"
    path.write_text("""\
name: Each
params:
  c: {type: int, example: 8}
  ks: [1, 3]
inputs:
  x: [B, c, H, W]
graph:
  convs: {each: k in ks, in: x, op: Conv2d, args: [c, c, k, 2], padding: k // 2,
          shape: [B, c, Hk, Wk]}
  s: {op: stack, in: convs, dim: 1}
  out: {op: mul, in: s, other: 1.0 / Hk}
outputs: out
""")
    assert main(["check", "-q", str(path)]) == 1
    assert "each.yaml:9:25: error[E402]: dim 'Hk' is bound by the shape of each item of node " \
        "'convs', a list" in capsys.readouterr().err
    path = tmp_path / "fused.yaml"
    path.write_text("""\
name: Fused
params:
  d: {type: int, example: 16}
inputs:
  q: [B, N, d]
  k: [B, M, d]
  v: [B, M, d]
graph:
  kt: {op: transpose, in: k, dim0: 1, dim1: 2}
  s: {op: matmul, in: [q, kt], shape: [B, N, Mk]}
  sc: {op: mul, in: s, other: d ** -0.5}
  a: {op: softmax, in: sc, dim: -1}
  o: {op: matmul, in: [a, v]}
  o2: {op: mul, in: o, other: 1.0 / Mk}
outputs: o2
""")
    source = attngen.load(str(path)).source()  # the scores stay: Mk is read from them
    assert "_, _, Mk = s.shape" in source and "scaled_dot_product_attention" not in source
