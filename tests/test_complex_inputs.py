"""Issue 13: an input may be declared complex (`dtype: complex`). The checker follows the
complex family through every op's dtype rule: an op that takes complex tensors accepts it
and gives what torch gives; one that does not is a located E402. `verify` feeds complex
tensors, and the generated docstring and the docs page show the dtype."""

from __future__ import annotations

import random

import attngen
import pytest
from attngen import ops, verify
from attngen.cli import main

torch = pytest.importorskip("torch")

SPEC = """\
name: T
params:
  c: 3
inputs:
  z: {shape: [B, c, H, W], dtype: complex}
graph:
  y: {op: OP, in: z}
outputs: y
"""
SIZES = (2, 3, 4, 5)
# ops of one input that need no argument (Upsample and interpolate need a size or a scale,
# pow an exponent, irfft2 a halved dim of at least 2 or its sizes: tests/test_ops_fft.py)
ONE_INPUT = sorted(name for name, op in ops.REGISTRY.items()
                   if op.arity[0] <= 1 and not any(a.required for a in op.args)
                   and name not in ("Upsample", "interpolate", "pow", "irfft2"))


def family(dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    return "complex" if dtype.is_complex else "float" if dtype.is_floating_point else "int"


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("op", ONE_INPUT)
def test_an_op_takes_a_complex_input_exactly_when_its_dtype_rule_says_so(tmp_path, capsys, op):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("OP", op))
    if "complex" not in ops.REGISTRY[op].dtype.allowed(0):
        assert main(["check", "-q", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"{path}:7:3: error[E402]: node 'y': {op} takes "), err
        assert "not complex ones" in err
        return
    loaded = attngen.load(str(path))
    checked = loaded.checked.nodes["y"].output
    z = torch.randn(SIZES, dtype=torch.complex64)
    got = loaded.compile()(c=3)(z)
    assert family(got.dtype) == checked.dtype  # what torch gives is what the checker says
    assert not verify.verify(loaded.checked, n_samples=2, export=False).errors


def test_a_complex_signal_gates_a_real_one_as_torch_computes_it(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text("""\
name: ComplexGate
params:
  c: 4
inputs:
  x: [B, c, L]
  z: {shape: [B, c, L], dtype: complex, doc: a complex signal}
graph:
  squared: {op: mul, in: [z, z], shape: [B, c, L]}
  mag:     {op: abs, in: squared}
  gate:    {op: sigmoid, in: mag}
  out:     {op: mul, in: [x, gate], shape: [B, c, L]}
outputs: [out, squared]
""")
    loaded = attngen.load(str(path))
    assert loaded.checked.shape_text("z", dtype=True) == "(B, c, L) complex"
    assert loaded.checked.shape_text("mag", dtype=True) == "(B, c, L)"  # float: not shown
    x, z = torch.randn(2, 4, 3), torch.randn(2, 4, 3, dtype=torch.complex64)
    out, squared = loaded.compile()()(x, z)
    torch.testing.assert_close(squared, z * z)
    torch.testing.assert_close(out, x * torch.sigmoid((z * z).abs()))
    # the generated docstring and the docs page show the dtypes that are not float
    source = loaded.source()
    assert "z: (B, c, L) complex\n" in source and "returns squared: (B, c, L) complex" in source
    assert "returns out: (B, c, L)\n" in source
    assert main(["docs", str(path), "-o", str(tmp_path / "docs")]) == 0
    page = (tmp_path / "docs" / "gate.md").read_text()
    assert "| `z` | input | `(B, c, L) complex` |" in page


def test_verify_feeds_complex_tensors_to_a_complex_input(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("OP", "abs"))
    spec = attngen.load(str(path)).spec
    sample = verify.draw_samples(spec, 1, random.Random(0))[0]
    z = verify.make_inputs(spec, sample)["z"]
    assert isinstance(z, torch.Tensor) and z.dtype == torch.complex64 and z.imag.abs().sum() > 0


def test_a_float_only_op_refuses_a_complex_tensor_made_inside_the_graph(tmp_path, capsys):
    """The dtype flows: `z * x` of a complex and a float tensor is complex, and LayerNorm
    (float only) refuses it where it reads it."""
    path = tmp_path / "t.yaml"
    path.write_text("""\
name: T
params:
  C: 8
inputs:
  x: [B, C]
  z: {shape: [B, C], dtype: complex}
graph:
  mixed: {op: mul, in: [z, x]}
  norm:  {op: LayerNorm, args: [C], in: mixed}
outputs: norm
""")
    assert main(["check", "-q", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:9:3: error[E402]: node 'norm': LayerNorm takes float "
                          "tensors as input 0, not complex ones"), err


def test_a_misspelt_complex_dtype_is_located_with_the_word_to_use(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("OP", "abs").replace("dtype: complex", "dtype: complex64"))
    assert main(["check", "-q", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:5:35: error[E102]: input 'z': dtype must be one of "
                          "float, bool, long, complex; did you mean 'complex'?"), err


def test_diff_sees_an_input_become_complex(tmp_path, capsys):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(SPEC.replace("OP", "abs").replace(", dtype: complex", ""))
    new.write_text(SPEC.replace("OP", "abs"))
    assert main(["diff", str(old), str(new)]) == 0
    assert "  ~ z: [B, c, H, W] -> [B, c, H, W] complex" in capsys.readouterr().out


@pytest.mark.parametrize("small, family", [
    ("x", "float"),  # found by a random-seed soundness run: the rule gave complex
    ("z", "complex"),
])
def test_expand_as_keeps_its_first_inputs_dtype(tmp_path, capsys, small, family):
    """`a.expand_as(b)` is a's dtype whatever b's: the checker's family is input 0's, and
    verify finds the runtime dtype the same (E600 otherwise)."""
    big = "z" if small == "x" else "x"
    shapes = {small: "[B, C, 1]", big: "[B, C, L]"}
    path = tmp_path / "t.yaml"
    path.write_text(
        f"name: T\ninputs:\n  x: {shapes['x']}\n  z: {{shape: {shapes['z']}, dtype: complex}}\n"
        f"graph:\n  y: {{op: expand_as, in: [{small}, {big}]}}\noutputs: y\n")
    checked = attngen.load(str(path)).checked
    assert checked.value("y").dtype == family
    assert main(["verify", str(path), "--samples", "2"]) == 0, capsys.readouterr()
