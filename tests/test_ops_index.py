"""`index`: `table[index]`, the rows of a tensor picked by an integer tensor (a learned
table of relative position embeddings read at offsets computed from sizes, as HaloNet and
Swin do): its shape and dtype rules, the generated line against torch, located errors for
a float index or one input, and a table read at offsets made in forward."""

from __future__ import annotations

import attngen
import pytest
from attngen.errors import SpecError

torch = pytest.importorskip("torch")

SPEC = """\
name: Pick
inputs:
  t: TSHAPE
  i: {shape: [A, C], dtype: IDTYPE}
graph:
  y: {op: index, in: [t, i]OUT}
outputs: y
"""


def spec(tmp_path, tshape="[V, D]", idtype="long", out=""):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("TSHAPE", tshape).replace("IDTYPE", idtype)
                    .replace("OUT", out))
    return path


@pytest.mark.parametrize("tshape, shape", [("[V, D]", "(A, C, D)"), ("[V]", "(A, C)"),
                                           ("[V, D, E]", "(A, C, D, E)")])
def test_the_index_shape_then_the_rest_of_the_table(tmp_path, tshape, shape):
    loaded = attngen.load(spec(tmp_path, tshape))
    assert loaded.shape("y") == shape
    assert "        y = t[i]\n" in loaded.source()


def test_equal_to_torch_and_of_the_tables_dtype(tmp_path):
    module = attngen.compile(spec(tmp_path))()
    table = torch.randn(7, 3, dtype=torch.float64)
    index = torch.tensor([[0, 6], [3, 3], [-1, 2]])
    got = module(table, index)
    assert got.dtype == torch.float64 and torch.equal(got, table[index])
    signs = table[:, 0] > 0
    bools = attngen.compile(spec(tmp_path, "{shape: [V], dtype: bool}"))()
    assert torch.equal(bools(signs, index), signs[index])


def test_an_index_out_of_range_raises_as_torch_does(tmp_path):
    module = attngen.compile(spec(tmp_path))()
    with pytest.raises(IndexError):
        module(torch.randn(4, 2), torch.tensor([[4]]))


def test_a_float_index_is_a_located_error(tmp_path):
    with pytest.raises(SpecError) as info:
        attngen.load(spec(tmp_path, idtype="float"))
    (diag,) = info.value.diagnostics
    assert diag.code == "E402" and "index takes int tensors as input 1, not float ones" \
        in diag.message, diag.message
    assert diag.loc.line == 6


def test_a_wrong_annotation_names_the_rule(tmp_path):
    with pytest.raises(SpecError) as info:
        attngen.load(spec(tmp_path, out=", shape: [A, D]"))
    (diag,) = info.value.diagnostics
    assert diag.code == "E403" or diag.code == "E400", diag
    assert any("[*I, *rest]" in n for n in diag.notes), diag.notes


def test_relative_offsets_read_from_a_learned_table(tmp_path):
    """The pattern of halo_rel_pos_emb.yaml: offsets j - y made in forward from sizes,
    shifted to rows of the table, one embedding per (query, key) pair."""
    path = tmp_path / "rel.yaml"
    path.write_text("""\
name: Rel
params:
  n: 3
  s: 5
  d: 4
inputs:
  q: [B, n, d]
graph:
  table:  {param: [2 * s - 1, d], init: normal, std: d ** -0.5}
  ys:     {op: arange, in: q, end: n}
  col:    {op: rearrange, in: ys, pattern: 'y -> y 1'}
  js:     {op: arange, in: q, end: s}
  offset: {op: sub, in: [js, col]}
  rows:   {op: add, in: offset, other: s - 1}
  picked: {op: index, in: [table, rows], shape: [n, s, d]}
  logits: {op: einsum, in: [q, picked], equation: 'byd,yjd->byj', shape: [B, n, s]}
outputs: logits
""")
    module = attngen.compile(path)()
    q = torch.randn(2, 3, 4)
    want = torch.stack([torch.stack([q[:, y] @ module.table[j - y + 4] for j in range(5)], -1)
                        for y in range(3)], 1)
    torch.testing.assert_close(module(q), want)
