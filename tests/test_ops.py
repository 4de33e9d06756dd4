"""The op library: every declaration is complete and every call template renders."""

from __future__ import annotations

import ast
import importlib
import re
import sys

import attngen
import pytest
from attngen import docs, ops, verify
from attngen.cli import main
from attngen.emit_calls import render_call
from attngen.ops.base import GROUPS
from conftest import REPO_ROOT

FUNCTIONS = sorted(name for name, op in ops.REGISTRY.items() if not op.module)
LITERALS = {"rearrange": {"pattern": "b (g c) -> c (b g)"}, "cast": {"to": "float32"}}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_call_template_renders_with_only_the_required_arguments(name):
    """Arguments left out of a spec fall back to their defaults in the generated call."""
    op = ops.REGISTRY[name]
    args = {a.name: a.name for a in op.args if a.required}
    # a literal whose text the emit hook reads (rearrange's pattern), as a spec writes it
    values = {k: v for k, v in LITERALS.get(name, {}).items() if k in args}
    args.update((k, repr(v)) for k, v in values.items())
    n_inputs = max(op.arity[0], 1)
    text = render_call(op, args, [f"t{i}" for i in range(n_inputs)], listed=False,
                       values=values)
    ast.parse(text, mode="eval")  # a Python expression


@pytest.mark.parametrize("name", sorted(ops.REGISTRY))
def test_declaration_is_complete(name):
    op = ops.REGISTRY[name]
    assert op.rule and op.summary, name
    assert op.group in GROUPS
    assert op.module == bool(op.torch)
    for key in op.key_args:
        op.arg(key)  # a diagram key argument is a declared argument


# -- adding an op is one file -------------------------------------------------------------------
@pytest.fixture
def pixel_shuffle(tmp_path, monkeypatch):
    """The ops page's example (docs.OP_EXAMPLE) as a module of one's own, imported (which
    registers the op); the op and its group are removed afterwards."""
    (tmp_path / "my_ops.py").write_text(docs.OP_EXAMPLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_ops", raising=False)
    importlib.import_module("my_ops")
    try:
        yield ops.REGISTRY["pixel_shuffle"]
    finally:
        del ops.REGISTRY["pixel_shuffle"]
        del ops.GROUPS["shuffle"]


SHUFFLE = """\
name: Upscale
params:
  c: 16
  r: 2
requires: [c % (r * r) == 0]
inputs:
  x: [B, c, H, W]
graph:
  conv: {op: Conv2d, args: [c, c, 3], padding: 1, in: x}
  up: {op: pixel_shuffle, args: [r], in: conv, shape: [B, c // (r * r), H * r, W * r]}
outputs: up
"""


def test_an_op_declared_in_one_file_is_checked_built_drawn_and_documented(
        pixel_shuffle, tmp_path, capsys):
    """Nothing but the declaration: the generated call, the diagram's colours and key, the
    ops page and the runtime shapes all follow from it."""
    spec = tmp_path / "upscale.yaml"
    spec.write_text(SHUFFLE)
    out = tmp_path / "out"
    assert main(["build", "--no-cache", "--no-svg", str(spec), "-o", str(out)]) == 0
    source = (out / "upscale.py").read_text()
    assert "import torch.nn.functional as F" in source
    assert "up = F.pixel_shuffle(conv, self.r)" in source
    assert main(["diagram", str(spec), "--legend", "-o", str(tmp_path / "d.dot")]) == 0
    dot = (tmp_path / "d.dot").read_text()
    box = next(line for line in dot.splitlines() if line.strip().startswith('"up" ['))
    assert "pixel_shuffle(r)" in box and 'fillcolor="#e0f2f1", color="#2e7d74"' in box
    assert "pixel shuffle</td>" in dot  # the colour key has the new group's row
    assert "### pixel\\_shuffle" in docs.ops_markdown()
    assert "| `upscale_factor` | `int` | required | at least 1 |" in docs.ops_markdown()
    report = verify.verify(attngen.load(str(spec)).checked, n_samples=1, export=False)
    assert not report.errors, report.errors


def test_the_new_ops_rules_are_enforced(pixel_shuffle, tmp_path, capsys):
    spec = tmp_path / "upscale.yaml"
    spec.write_text(SHUFFLE.replace("requires: [c % (r * r) == 0]\n", ""))
    assert main(["check", str(spec)]) == 1
    assert "error[E404]" in capsys.readouterr().err  # c not always divisible by r * r
    spec.write_text(SHUFFLE.replace("args: [r]", "args: [0.5]"))
    assert main(["check", str(spec)]) == 1
    assert "pixel_shuffle's 'upscale_factor' must be a whole number" in capsys.readouterr().err


# -- emit hooks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["emit", "diagram", "params", "describe", "infer"])
def test_no_op_is_special_cased_outside_its_declaration(module):
    """Every op-specific behaviour (how a call is written, its operands, its colours) is the
    op's declaration, not a branch on an op's or an argument's name."""
    source = (REPO_ROOT / "codegen" / "attngen" / f"{module}.py").read_text()
    compared = re.findall(r"\b(?:op|name)\s*(?:==|!=)\s*['\"](\w+)['\"]", source)
    assert not [n for n in compared if n in ops.REGISTRY or any(
        n == a.name for op in ops.REGISTRY.values() for a in op.args)], compared


SLICE = """\
name: Crop
params:
  d: {default: 1, choices: [1, -1, 2]}
requires: [C >= 3, H >= 3, W >= 3]
inputs:
  x: [B, C, H, W]
graph:
  y: {op: slice, dim: d, start: 1, stop: 3, in: x}
outputs: y
"""


@pytest.mark.parametrize("dim", [1, -1, 2])
def test_a_slice_dim_given_by_a_param_is_indexed_at_run_time(tmp_path, dim):
    """slice's emit hook writes `x[:, 1:3]` for a literal dim (generated/asff.py); for a
    dim given by a param it builds the index at run time (the build used to fail)."""
    torch = pytest.importorskip("torch")
    spec = tmp_path / "crop.yaml"
    spec.write_text(SLICE)
    model = attngen.compile(str(spec))(d=dim)
    x = torch.arange(2 * 4 * 5 * 6).reshape(2, 4, 5, 6)
    assert torch.equal(model(x), x.narrow(dim, 1, 2))
