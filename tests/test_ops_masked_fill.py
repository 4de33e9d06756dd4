"""`masked_fill` with `fill: lowest` / `highest`: the input dtype's finite extremes
(torch.finfo), the fill of attention masks that stay finite in every precision; against
torch in float16, bfloat16, float32 and float64; a row masked whole softmaxes to uniform
weights (where -inf gives NaN) and is never fused into scaled_dot_product_attention; wrong
uses are located errors."""

from __future__ import annotations

import attngen
import pytest
from attngen.errors import SpecError

torch = pytest.importorskip("torch")

SPEC = """\
name: T
inputs:
  x: XSHAPE
  m: {shape: [B, N, N], dtype: bool}
graph:
  y: NODE
outputs: y
"""


def spec(tmp_path, node: str, xshape: str = "[B, N, N]"):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("NODE", node).replace("XSHAPE", xshape))
    return path


@pytest.mark.parametrize("fill, extreme", [("lowest", "min"), ("highest", "max")])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32,
                                   torch.float64])
def test_fill_is_the_dtypes_extreme(tmp_path, fill, extreme, dtype):
    module = attngen.compile(spec(tmp_path, f"{{op: masked_fill, fill: {fill}, in: [x, m]}}"))()
    x = torch.randn(2, 3, 3).to(dtype)
    m = torch.rand(2, 3, 3) > 0.5
    got = module(x, m)
    assert got.dtype == dtype and not got.isinf().any()
    assert torch.equal(got, x.masked_fill(m, getattr(torch.finfo(dtype), extreme)))


def test_a_row_masked_whole_is_uniform_and_not_fused(tmp_path):
    node = "{op: masked_fill, fill: lowest, in: [scores, m]}"
    text = SPEC.replace("  y: NODE\n", f"""\
  scores: {{op: matmul, in: [x, x]}}
  masked: {node}
  y: {{op: softmax, dim: -1, in: masked}}
""")
    path = tmp_path / "t.yaml"
    path.write_text(text.replace("XSHAPE", "[B, N, N]"))
    loaded = attngen.load(path)
    assert "scaled_dot_product_attention" not in loaded.source()
    x = torch.randn(1, 4, 4)
    m = torch.zeros(1, 4, 4, dtype=torch.bool)
    m[0, 1] = True  # row 1 masked whole
    got = loaded.compile()()(x, m)
    assert torch.allclose(got[0, 1], torch.full((4,), 0.25))
    assert not got.isnan().any()


@pytest.mark.parametrize("node, xshape, message, col", [
    ("{op: masked_fill, fill: lowest, value: 0, in: [x, m]}", "[B, N, N]",
     "masked_fill takes 'value' (a number) or 'fill'", 3),
    ("{op: masked_fill, in: [x, m]}", "[B, N, N]",
     "masked_fill takes 'value' (a number) or 'fill'", 3),
    ("{op: masked_fill, fill: low, in: [x, m]}", "[B, N, N]",
     "argument 'fill' must be one of 'lowest', 'highest'; did you mean 'lowest'?", 30),
    ("{op: masked_fill, fill: lowest, in: [x, m]}", "{shape: [B, N, N], dtype: long}",
     "'fill: lowest' is a floating dtype's extreme (torch.finfo); the input is an int tensor",
     3),
])
def test_wrong_fills_are_located_errors(tmp_path, node, xshape, message, col):
    with pytest.raises(SpecError) as info:
        attngen.load(spec(tmp_path, node, xshape))
    first = info.value.diagnostics[0]
    assert (first.code, first.loc.line, first.loc.col) == ("E402", 6, col)
    assert message in first.message, first.message
