"""A param's or buffer's init options written as expressions over params and lets
(`std: dim_head ** -0.5`, HaloNet's relative embeddings): the generated __init__, the
checker's judgement at each configuration, located errors, what `show`, `diff` and a Spec
edited in Python make of them."""

import dataclasses

import pytest
import torch
from attngen import compile as compile_spec
from attngen import load
from attngen.cli import main
from attngen.errors import SpecError
from attngen.expr import parse
from attngen.model import TensorDecl

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = """\
name: Scaled
params:
  d: 16
  use_bias: {default: true}
let:
  scale: d ** -0.5
inputs:
  x: [B, N, d]
graph:
  table:  {param: [d, d], init: normal, std: scale}
  shift:  {param: [d], init: uniform, a: -scale, b: scale}
  fill:   {buffer: [d], init: constant, value: d // 2, dtype: long}
  mixed:  {op: matmul, in: [x, table]}
  out:    {op: add, in: [mixed, shift]}
outputs: [out, fill]
"""


def _write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_generated_init_writes_the_expressions(tmp_path):
    out = tmp_path / "out"
    assert main(["build", str(_write(tmp_path, SPEC)), "-o", str(out), "--no-svg"]) == 0
    init = (out / "spec.py").read_text().split("def forward")[0]
    for line in ("nn.init.normal_(self.table, std=self.scale)",
                 "nn.init.uniform_(self.shift, a=-self.scale, b=self.scale)",
                 '"fill", torch.full((d,), d // 2, dtype=torch.long, device=device)'):
        assert line in init, init


def test_the_values_follow_the_params(tmp_path):
    """The same draws as nn.init's, with the std and bounds of the constructor's d."""
    cls = compile_spec(_write(tmp_path, SPEC))
    torch.manual_seed(0)
    module = cls(d=64)
    torch.manual_seed(0)
    table = torch.nn.init.normal_(torch.empty(64, 64), std=64 ** -0.5)
    shift = torch.nn.init.uniform_(torch.empty(64), a=-(64 ** -0.5), b=64 ** -0.5)
    torch.testing.assert_close(module.table.detach(), table, rtol=0, atol=0)
    torch.testing.assert_close(module.shift.detach(), shift, rtol=0, atol=0)
    assert module.fill.tolist() == [32] * 64


ERRORS = [
    # (the node's replacement, code, in the message, line, col)
    ("{param: [d, d], init: normal, std: -scale}", "E102",
     "init 'std' must be at least 0, got -0.25", 10, 46),
    ("{param: [d, d], init: normal, std: N}", "E202", "names input dim 'N'", 10, 46),
    ("{param: [d, d], init: normal, std: scael}", "E202", "did you mean 'scale'", 10, 46),
    ("{param: [d, d], init: normal, std: \"'wide'\"}", "E102",
     "init 'std' is 'wide' (not a number)", 10, 46),
    ("{param: [d, d], init: normal, std: inf}", "E102", "(not finite)", 10, 46),
    ("{param: [d, d], init: uniform, a: scale, b: -scale}", "E102",
     "init 'b' must be greater than 'a' (0.25), got -0.25", 10, 55),
]


@pytest.mark.parametrize("node, code, message, line, col", ERRORS,
                         ids=[e[2][:30] for e in ERRORS])
def test_a_bad_expression_is_a_located_error(tmp_path, node, code, message, line, col):
    text = SPEC.replace("{param: [d, d], init: normal, std: scale}", node)
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    (diag,) = info.value.diagnostics
    assert diag.code == code and message in diag.message, diag.message
    assert (diag.loc.line, diag.loc.col) == (line, col), diag.loc


def test_judged_in_each_configuration(tmp_path):
    """A std negative only where a bool param is false names that configuration."""
    text = SPEC.replace("std: scale}", "std: scale if use_bias else -1}")
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    (diag,) = info.value.diagnostics
    assert "got -1" in diag.message and "use_bias=False" in diag.message, diag.message


def test_a_long_buffer_value_must_be_whole(tmp_path):
    text = SPEC.replace("value: d // 2", "value: d / 3")
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    (diag,) = info.value.diagnostics
    assert "its 'value' must be a whole number, got 5.33" in diag.message, diag.message
    assert (diag.loc.line, diag.loc.col) == (12, 48)


@pytest.mark.parametrize("node, message", [
    ("{param: [d], init: uniform, a: 2}", "init 'a' must be below 'b', which is 1.0 unless "
     "given (init uniform's default), got 2.0"),
    ("{param: [d], init: trunc_normal, b: -3}", "init 'b' must be greater than 'a', which is "
     "-2.0 unless given (init trunc_normal's default), got -3.0"),
])
def test_one_bound_is_judged_against_the_others_default(tmp_path, node, message):
    """nn.init.uniform_(t, a=2) raises in torch (b defaults to 1): the checker says so first."""
    text = SPEC.replace("{param: [d], init: uniform, a: -scale, b: scale}", node)
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    assert message in info.value.diagnostics[0].message


def test_show_and_diff_print_the_expression(tmp_path, capsys):
    path = _write(tmp_path, SPEC)
    assert main(["show", str(path)]) == 0
    assert "normal(std=scale)" in capsys.readouterr().out
    other = _write(tmp_path, SPEC.replace("std: scale}", "std: 2 * scale}"), "other.yaml")
    assert main(["diff", str(path), str(other)]) == 0
    assert "normal(std=scale) -> normal(std=2 * scale)" in capsys.readouterr().out


def test_a_spec_edited_in_python_keeps_the_rule(tmp_path):
    """An Expr made by parse is taken (and judged); any other object is a SpecError."""
    spec = load(_write(tmp_path, SPEC)).spec
    node = spec.nodes["table"]
    decl = node.form
    loc = decl.shape[0].loc
    assert isinstance(decl, TensorDecl) and decl.options["std"] == parse("scale", loc)
    wider = dataclasses.replace(decl, options={"std": parse("2 * scale", loc)})
    spec.nodes["table"] = dataclasses.replace(node, form=wider)
    assert compile_spec(spec)().table.shape == (16, 16)
    wrong = dataclasses.replace(decl, options={"std": "scale"})
    spec.nodes["table"] = dataclasses.replace(node, form=wrong)
    with pytest.raises(SpecError, match="init 'std' must be a finite float or an expression"):
        compile_spec(spec)
