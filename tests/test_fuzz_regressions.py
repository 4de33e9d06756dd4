"""Inputs the fuzzer (tests/test_fuzz.py) once crashed on, kept as plain regression tests:
each ends in a clean build or in located errors with exit 1."""

from __future__ import annotations

import pytest
from fuzzing import assert_located_errors, run_cli

BASE = """\
name: Case
params:
  c: 8
  mode: {default: fast, doc: a str param}
inputs:
  x: [B, c, H, W]
graph:
{graph}
outputs: y
"""

CASES = {
    # a null dim in a shape annotation
    "null_dim": ("  y: {op: ReLU, in: x, shape: [B, null, H, W]}", 1, "E102"),
    # a list where Linear expects a number: no integer dim
    "list_argument": (("  f: {op: view, in: x, to: [B, -1]}\n"
                      "  y: {op: Linear, args: [c, []], in: f, shape: [B, c]}"), 1,
                      "E402"),
    # a defaulted argument left out of a tensor function (stack's dim)
    "default_argument": (("  s: {op: stack, in: [x, x]}\n"
                         "  y: {op: sum, in: s, dim: 0, shape: [B, c, H, W]}"), 0, None),
    # a conditional on a str param
    "str_condition": ("  y: {op: mul, in: x, other: 2 if mode else 3}", 0, None),
    # a `use:` name no file system accepts
    "long_use_name": ("  y: {use: " + "a" * 300 + ", in: x}", 1, "E500"),
    "nul_use_name": ('  y: {use: "a\\0b", in: x}', 1, "E500"),
    # a node with several outputs read by its own name (KeyError)
    "multi_output_read_by_node_name": (("  t: {op: cat, in: [x, x], dim: 1}\n"
                                        "  s: {op: split, in: t, args: [[c, c]], dim: 1, "
                                        "out: [a, b]}\n  y: {op: ReLU, in: s}"), 1, "E402"),
    # a kernel size whose parameter count overflows
    "huge_kernel": ("  y: {op: Conv2d, args: [c, c, 1.0e+308], padding: 5.0e+307, in: x}", 1,
                    "E402"),
    # found by a random-seed soundness run: norms whose statistics are over one element,
    # which torch refuses at run time (InstanceNorm always, BatchNorm in training)
    "instance_norm_of_one_element": (("  s: {op: std, in: x, keepdim: true}\n"
                                      "  f: {op: flatten, in: s, start_dim: 2}\n"
                                      "  y: {op: InstanceNorm1d, in: f, num_features: 1}"),
                                     1, "E403"),
    "batch_norm_of_one_value": (("  s: {op: std, in: x, keepdim: true}\n"
                                 "  f: {op: flatten, in: s, start_dim: 2}\n"
                                 "  y: {op: BatchNorm1d, in: f, num_features: 1}"), 1, "E403"),
}


@pytest.mark.parametrize("name", CASES)
def test_once_crashed(name, tmp_path):
    graph, status, code = CASES[name]
    spec = tmp_path / "case.yaml"
    spec.write_text(BASE.replace("{graph}", graph), encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    if status == 0:
        assert res.code == 0, res.err
    else:
        assert_located_errors(res)
        assert f"error[{code}]" in res.err, res.err


def test_nan_param_in_max(tmp_path):
    """A NaN default (`.nan`) reaching max() beside a symbolic param: sympy refuses to
    compare them (found by the long fuzz run, 6,000 mutated specs)."""
    spec = tmp_path / "case.yaml"
    spec.write_text("name: Case\nparams:\n  c: .nan\n  L: 32\nlet:\n  d: max(L, c // 8)\n"
                    "inputs:\n  x: [B, 8]\ngraph:\n  y: {op: ReLU, in: x}\noutputs: y\n",
                    encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    assert_located_errors(res)
    assert "error[E102]" in res.err and "max(L, c // 8)" in res.err, res.err


@pytest.mark.parametrize("std, message", [
    ("1" + "0" * 400, "must be a finite number"),  # found by the long fuzz run: OverflowError
    (".inf", "must be a finite number"),  # would be generated as `std=inf`, a NameError
    (".nan", "must be a finite number"),
    ("-0.5", "must be at least 0"),  # torch refuses it when the module is built
])
def test_init_numbers_are_finite(std, message, tmp_path):
    spec = tmp_path / "case.yaml"
    spec.write_text("name: Case\nparams:\n  c: 8\ninputs:\n  x: [B, c]\ngraph:\n"
                    "  y: {op: Linear, args: [c, c], in: x}\noutputs: y\n"
                    f"init:\n- {{op: Linear, weight: normal, std: {std}}}\n", encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    assert_located_errors(res)
    assert "case.yaml:10:" in res.err and "error[E102]" in res.err and message in res.err, res.err
    assert not (tmp_path / "out").exists()


def test_divisibility_requirement_on_a_bool(tmp_path):
    """`requires: c % g == 0` with g a bool param: the requirement's rewrite multiplied a
    bool by a symbol, a TypeError (found by a long fuzz run)."""
    spec = tmp_path / "case.yaml"
    spec.write_text("name: Case\nparams:\n  c: 8\n  g: false\nrequires:\n- c % g == 0\n"
                    "inputs:\n  x: [B, c]\ngraph:\n  y: {op: Linear, args: [c, c], in: x}\n"
                    "outputs: y\n", encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    assert_located_errors(res)
    assert "case.yaml:6:" in res.err, res.err


@pytest.mark.parametrize("value, shown", [
    ("[]", "[]"),  # found by a long fuzz run: passed the checker, then a TypeError in the
    ("[1, 2]", "[1, 2]"),  # parameter count of the conv that takes it as in_channels
    ("2.5", "2.5"),
    ("abc", "'abc'"),
])
def test_an_input_dim_that_is_no_whole_number(value, shown, tmp_path):
    spec = tmp_path / "case.yaml"
    spec.write_text(f"name: Case\nparams:\n  c: {value}\ninputs:\n  x: [B, c, H, W]\ngraph:\n"
                    "  y: {op: Conv2d, args: [c, 8, 1], in: x}\noutputs: y\n", encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    assert_located_errors(res)
    assert f"case.yaml:5:10: error[E402]: dim 'c' is not an integer ({shown})" in res.err, res.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where, text, shown", [
    # found by a random-seed run of the mutated-spec fuzzer: `aliases: [.inf]` became a class
    # alias named inf (str of the float), written `inf = Case`
    ("aliases", "aliases: [.inf]\n", "module name 'inf' is a number in YAML, not a name"),
    ("out", "  y: {op: split, in: x, args: [[4, 4]], dim: 1, out: [.nan, b]}\n",
     "output name 'nan' is a number in YAML, not a name"),
    ("out", "  y: {op: split, in: x, args: [[4, 4]], dim: 1, out: [a, true]}\n",
     "output name 'True' is true or false in YAML, not a name"),
])
def test_a_name_given_as_a_yaml_value_is_refused(where, text, shown, tmp_path):
    spec = tmp_path / "case.yaml"
    base = BASE.replace("{graph}", "  y: {op: ReLU, in: x}")
    if where == "aliases":
        base = base.replace("inputs:", text + "inputs:")
    else:
        base = base.replace("  y: {op: ReLU, in: x}\n", text)
    spec.write_text(base, encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    assert_located_errors(res)
    assert "error[E104]" in res.err and shown in res.err, res.err



# Crashes a new user's specs (timm's ConvNeXt block, an MLP ratio) met: an optional
# width `out_chs` (null: the input's) read in a let, then in arithmetic or a requirement.
OPTIONAL_WIDTH = """\
name: Case
params:
  c: {type: int, example: 32}
  out_chs: {default: null, type: int, example: 64}
  ratio: {default: 4.0}
let:
  out_c: out_chs if out_chs else c
{lets}requires: [{requires}]
inputs:
  x: [B, c, H, W]
graph:
  y: {op: Conv2d, args: [c, {width}, 3], padding: 1, in: x}
outputs: y
"""


@pytest.mark.parametrize("lets, requires, width", [
    # `out_chs if out_chs else c`: the symbol out_chs as a sympy condition; int() of it
    # raised sympy's TypeError (Second argument must be a Boolean)
    ("  hidden: int(ratio * out_c)\n", "", "hidden"),
    # a divisibility of the let, which is c itself where out_chs is null: rewritten as
    # c = c * k, an AssertionError while drawing samples
    ("", "out_c % c == 0", "out_c"),
])
def test_an_optional_width_in_lets(lets, requires, width, tmp_path):
    spec = tmp_path / "case.yaml"
    spec.write_text(OPTIONAL_WIDTH.replace("{lets}", lets).replace("{requires}", requires)
                    .replace("{width}", width), encoding="utf-8")
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(tmp_path / "out")])
    assert res.code == 0, res.err
    source = (tmp_path / "out" / "case.py").read_text()
    assert "out_chs if out_chs else c" in source
