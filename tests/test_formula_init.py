"""`init: formula` (parse_tensors, call_args.check_formula, expr_source.torch_source): a
param or buffer whose every element is an expression of its index along each dim, built
in __init__ from torch.arange grids. The Transformer's sinusoidal position encoding and
DySample's initial offsets equal their hand-written constructions; a formula that reads no
index, cannot be evaluated somewhere or gives no number is an error at the formula."""

from __future__ import annotations

import math

import attngen
import pytest
from attngen.cli import main

torch = pytest.importorskip("torch")

SINUSOID = ("sin(p * exp(-log(10000.0) * (i - i % 2) / d)) if i % 2 == 0 "
            "else cos(p * exp(-log(10000.0) * (i - i % 2) / d))")
SPEC = """\
name: Encoded
params:
  n: 16
  d: 8
inputs:
  x: [B, n, d]
graph:
  pe: {KIND: [n, d], init: formula, index: [p, i], formula: "FORMULA"}
  out: {op: add, in: [x, pe], shape: [B, n, d]}
outputs: out
"""


def _spec(tmp_path, formula: str = SINUSOID, kind: str = "buffer") -> str:
    path = tmp_path / "encoded.yaml"
    path.write_text(SPEC.replace("FORMULA", formula).replace("KIND", kind))
    return str(path)


@pytest.mark.parametrize("dtype", [None, torch.float64])
def test_the_sinusoidal_position_encoding(tmp_path, dtype):
    module = attngen.load(_spec(tmp_path)).compile()(n=50, d=12, dtype=dtype)
    pos = torch.arange(50, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, 12, 2, dtype=torch.float64) * (-math.log(10000.0) / 12))
    want = torch.zeros(50, 12, dtype=torch.float64)
    want[:, 0::2], want[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    assert module.pe.dtype == (dtype or torch.get_default_dtype())
    assert list(module.state_dict()) == ["pe"]
    torch.testing.assert_close(module.pe.double(), want, atol=1e-6, rtol=1e-5)


def test_a_learnable_tensor_starts_at_its_formula(tmp_path):
    module = attngen.load(_spec(tmp_path, "p + i / d", "param")).compile()()
    assert isinstance(module.pe, torch.nn.Parameter)
    torch.testing.assert_close(module.pe.detach(), torch.arange(16.0)[:, None]
                               + torch.arange(8.0) / 8)


def test_dysamples_initial_offsets(tmp_path):
    """DySample's init_pos: for each group and each of scale x scale sub-positions, the
    offset of the sub-position's column (first half of the channels) or row (second)."""
    path = tmp_path / "offsets.yaml"
    path.write_text("""\
name: Offsets
params:
  scale: 2
  groups: 4
inputs:
  x: [B, 2 * groups * scale ** 2, H, W]
graph:
  init_pos: {buffer: [1, 2 * groups * scale ** 2, 1, 1], init: formula, index: [o, c, h, w],
             formula: "(c % scale - (scale - 1) / 2) / scale if c < groups * scale ** 2
                       else (c // scale % scale - (scale - 1) / 2) / scale"}
  out: {op: add, in: [x, init_pos], shape: [B, 2 * groups * scale ** 2, H, W]}
outputs: out
""")
    for scale, groups in ((2, 4), (3, 2)):
        got = attngen.load(str(path)).compile()(scale=scale, groups=groups).init_pos
        h = torch.arange((-scale + 1) / 2, (scale - 1) / 2 + 1) / scale
        want = torch.stack(torch.meshgrid([h, h], indexing="ij")).transpose(1, 2).repeat(
            1, groups, 1).reshape(1, -1, 1, 1)
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("formula, message", [
    ("3.0", "the formula of buffer 'pe' reads no index: every element would be the same"),
    ("p / (i - 1)", "node 'pe': the formula cannot be evaluated at p=0, i=1: division by zero"),
    ("log(i)", "node 'pe': the formula cannot be evaluated at p=0, i=0: log() of 0.0"),
    ("p > i", "node 'pe': the formula gives False at p=0, i=0; each element must be a finite "
              "number"),
    ("q + p", "unknown name 'q' in the formula of buffer 'pe'"),
    ("[1, 2][i]", "the formula of buffer 'pe' indexes a list by an index ('[1, 2][i]')"),
    ("round(p)", "call of 'round' is not allowed; functions: max, min, int, abs, len, sum, "
                 "log2, sin, cos, exp, log, sqrt"),
])
def test_a_wrong_formula_is_an_error_at_it(tmp_path, capsys, formula, message):
    assert main(["check", _spec(tmp_path, formula)]) == 1
    err = capsys.readouterr().err
    assert "encoded.yaml:8:" in err and message in err, err


@pytest.mark.parametrize("node, message", [
    ("{buffer: [n, d], init: formula, index: [p], formula: p}",
     "buffer 'pe' has 2 dim(s) and 1 index name(s): one per dim"),
    ("{buffer: [n, d], init: formula, index: [p, n], formula: p}",
     "index 'n' of buffer 'pe' must be a new name"),
    ("{buffer: [n, d], init: formula, formula: p}",
     "'init: formula' of buffer 'pe' needs 'index'"),
    ("{buffer: [n, d], init: zeros, index: [p, i]}",
     "'index' of buffer 'pe' applies only to init: formula, not to init: zeros"),
])
def test_a_wrong_index_is_an_error(tmp_path, capsys, node, message):
    path = tmp_path / "encoded.yaml"
    path.write_text(SPEC.replace('{KIND: [n, d], init: formula, index: [p, i], formula: '
                                 '"FORMULA"}', node))
    assert main(["check", str(path)]) == 1
    assert message in capsys.readouterr().err
