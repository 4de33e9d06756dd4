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
    ("p > i", "the formula of buffer 'pe': 'p > i' is a truth value where a number is "
              "needed: write `1.0 if ... else 0.0`"),
    # Python's truthiness and bool arithmetic are not torch's `&`, `~` and bool sums
    ("1.0 if p else 2.0", "the test of 'if' is a number ('p'): compare it"),
    ("p and i", "'and'/'or' of numbers ('p and i'): compare them"),
    ("(not p) * 1.0 + i", "'not' of a number ('not p')"),
    ("(p > 1) + (i > 1)", "arithmetic on a truth value ('(p > 1) + (i > 1)')"),
    ("1.0 if p in [1, 2] else i", "'in' or 'is' in a formula"),
    ("[p > 2, 0.0][0] + i", "a list holding the index ('[p > 2, 0.0][0]')"),
    ("sum([p, i]) + 0.5", "'sum([p, i])' sums a list of the index"),
    ("exp(p * 20.0) + i", "the formula gives 2.6881171418161356e+43 at p=5, i=0; each "
                          "element must be a finite number (within float32's range"),
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
    ("{buffer: [n, d], init: formula, index: [None, i], formula: i}",
     "index 'None' of buffer 'pe' must be a name"),
    ("{buffer: [n, d], init: formula, index: [inf, i], formula: i}",
     "index 'inf' of buffer 'pe' is a name expressions read as a constant or a function"),
    ("{buffer: [n, d], init: formula, index: [float, i], formula: i}",
     "index name 'float' is reserved: the generated code uses it"),
    ("{buffer: [n, d], init: formula, index: [\uff44, i], formula: i}",
     "index name '\\uff44' is not a valid identifier"),
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


@pytest.mark.parametrize("formula, want", [
    # a number branch meets the index tensors in the module's dtype, an int formula is float
    ("1.0 if p <= i else 0.0", lambda p, i: float(p <= i)),
    ("1 if p == i else 0", lambda p, i: float(p == i)),
    # an `if` that reads no index: its number branch still fills the tensor
    ("p if d > 100 else 0.5", lambda p, i: 0.5),
    ("log2(p + 1) + i", lambda p, i: math.log2(p + 1) + i),
    ("max(p, 3) - min(i, 2.5) + abs(p - i)", lambda p, i: max(p, 3) - min(i, 2.5) + abs(p - i)),
    # an `if` decided in Python with a number on one side: a tensor either way
    ("sin(p if d > 100 else 0.0) + i", lambda p, i: i),
    ("int((d - 2) * (2 if d > 3 else i))", lambda p, i: 12.0),
    ("2.0 if d > 3 else p", lambda p, i: 2.0),
    ("p + max(2)", lambda p, i: p + 2),
])
@pytest.mark.parametrize("dtype", [None, torch.float64])
def test_a_formula_is_its_python_value_at_every_element(tmp_path, formula, want, dtype):
    for kind in ("buffer", "param"):
        module = attngen.load(_spec(tmp_path, formula, kind)).compile()(dtype=dtype)
        got = module.pe.detach()
        assert got.shape == (16, 8) and got.dtype == (dtype or torch.get_default_dtype())
        expected = torch.tensor([[want(p, i) for i in range(8)] for p in range(16)],
                                dtype=torch.float64)
        torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape, index, formula, where", [
    ("[17, 17, 17]", "[p, i, j]", "1.0 / (p - 16) + i + j", "p=16, i=0, j=0"),
    ("[100, d]", "[p, i]", "1.0 / (p - 20) + i", "p=20, i=0"),
])
def test_every_index_of_a_large_tensor_is_evaluated(tmp_path, capsys, shape, index, formula,
                                                    where):
    path = tmp_path / "encoded.yaml"
    path.write_text(SPEC.replace("[n, d], init: formula, index: [p, i]",
                                 f"{shape}, init: formula, index: {index}")
                    .replace('"FORMULA"', f'"{formula}", unused: true').replace("KIND", "buffer")
                    .replace("  out: {op: add, in: [x, pe], shape: [B, n, d]}\noutputs: out",
                             "outputs: x"))
    assert main(["check", str(path)]) == 1
    assert f"the formula cannot be evaluated at {where}: division by zero" in \
        capsys.readouterr().err


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_an_index_beyond_what_a_half_dtype_holds_is_exact(tmp_path, dtype):
    """bfloat16 holds no odd integer above 256, float16 none above 2048: the index is made
    in float64 and the values cast once (an arange in bfloat16 gave `i % 2` = 0 at i=257)."""
    module = attngen.load(_spec(tmp_path, "i % 2 + p")).compile()(n=3, d=4100, dtype=dtype)
    want = (torch.arange(4100) % 2 + torch.arange(3).unsqueeze(1)).to(dtype)
    assert module.pe.dtype == dtype
    torch.testing.assert_close(module.pe, want, atol=0, rtol=0)


LONG = """\
name: Offsets
params:
  r: {default: 4}
let:
  n: r * r
inputs:
  x: [B, n]
graph:
  idx: {buffer: [n, n], init: formula, index: [i, j], dtype: long, formula: "FORMULA"}
  table: {param: [n], init: zeros}
  bias: {op: index, in: [table, idx], shape: [n, n]}
  out: {op: matmul, in: [x, bias], shape: [B, n]}
outputs: out
"""


def test_a_long_buffer_s_formula_gives_levit_s_offsets(tmp_path):
    """LeViT's attention-bias index: the offset between two points of an r x r grid."""
    path = tmp_path / "offsets.yaml"
    path.write_text(LONG.replace("FORMULA", "abs(i // r - j // r) * r + abs(i % r - j % r)"))
    module = attngen.load(str(path)).compile()(r=5, dtype=torch.bfloat16)
    grid = torch.tensor([[a, b] for a in range(5) for b in range(5)])
    offsets = (grid[:, None] - grid[None]).abs()
    assert module.idx.dtype == torch.long
    assert torch.equal(module.idx, offsets[..., 0] * 5 + offsets[..., 1])


@pytest.mark.parametrize("formula, bad", [
    ("i / 2", "`/` (divide with `//`)"),
    # whole at the default r = 1, truncated at r = 2 (a review found it built)
    ("(i - j) / r + n - 1", "`/` (divide with `//`)"),
    ("i * 0.5", "the float 0.5"), ("sqrt(i)", "sqrt()"), ("2 ** (i - j)", "`**` by other"),
])
def test_a_long_buffer_s_formula_makes_whole_numbers_at_every_value(tmp_path, capsys,
                                                                    formula, bad):
    path = tmp_path / "offsets.yaml"
    path.write_text(LONG.replace("FORMULA", formula).replace("default: 4", "default: 1"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"error[E102]: node 'idx': a long tensor's formula has {bad}" in err, err


@pytest.mark.parametrize("kind, formula, message", [
    # past 2 ** 53 at p = 208,123: beyond the first 4096 indices that were all it read
    ("buffer: [300000], dtype: long", "p * p * p", "keep its values within 2 ** 53"),
    ("buffer: [5000]", "exp(p / 50)", "within float32's range"),
])
def test_a_large_formula_is_read_at_its_far_end_too(tmp_path, capsys, kind, formula, message):
    path = tmp_path / "far.yaml"
    path.write_text(f"name: Far\ninputs: {{x: [B, C]}}\ngraph:\n  w: {{{kind}, init: formula, "
                    f"index: [p], formula: \"{formula}\", unused: true}}\n"
                    "  y: {op: identity, in: x}\noutputs: y\n")
    assert main(["check", str(path)]) == 1
    assert message in capsys.readouterr().err
