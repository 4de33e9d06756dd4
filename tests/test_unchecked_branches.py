"""Branches the defaults never take. A float, str, list or `any` param is checked at its
default alone, so a `when:` (or a let's test, `hidden if hidden else dim`) false there
guarded code nothing checked: an `add` of a list built as `summed = branch`, a conv sized
by the other branch. Such a condition is W102 with the `example:` to give; an example
beside a default is a second value the checker tries. A `when:` comparing a `choices`
param with a value outside them is E202 (the layer it guards silently vanished). And an
`add` of a list input is `sum(xs)` (it was `summed = xs`)."""

from __future__ import annotations

import pytest
import torch
from attngen.cli import main
from equivalence import load_generated

GATE = """\
name: Gate
params:
  alpha: {default: 0.0, doc: extra branches only where alpha > 0}
  n: 2
inputs:
  x: [B, C, L]
graph:
  branch: {when: alpha > 0, each: i in range(n), op: mul, in: x, other: alpha}
  summed:
    cases:
      - {when: alpha > 0, op: add, in: branch}
      - {when: alpha <= 0, op: identity, in: x}
  out: {op: add, in: [summed, x]}
outputs: out
"""

HIDDEN = """\
name: Mlp
params:
  dim: {type: int, example: 16}
  hidden: {default: null}
let:
  width: hidden if hidden else dim
inputs:
  x: [B, N, dim]
graph:
  fc1: {op: Linear, args: [dim, width], in: x}
  fc2: {op: Linear, args: [dim, dim], in: fc1}
outputs: fc2
"""


def _run(tmp_path, capsys, text, *command, name="spec"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    code = main([*command, str(path), *(["-o", str(tmp_path / "generated")]
                                        if command[0] == "build" else [])])
    out = capsys.readouterr()
    return code, out.err + out.out


def test_a_when_the_default_never_takes_warns_with_an_example_that_works_pasted(
        tmp_path, capsys):
    code, err = _run(tmp_path, capsys, GATE, "check", "-q")
    assert code == 0
    assert ("spec.yaml:8:18: warning[W102]: 'alpha > 0' holds for no value the checker "
            "tries") in err, err
    fix = "`alpha: {default: 0.0, example: 1.0}`"
    assert fix in err, err
    pasted = GATE.replace("  alpha: {default: 0.0, doc: extra branches only where alpha > 0}",
                          "  " + fix.strip("`"))
    code, out = _run(tmp_path, capsys, pasted, "check")
    assert code == 0 and "W102" not in out and "2 configurations" in out, out
    assert _run(tmp_path, capsys, pasted, "build", name="gate")[0] == 0
    source = (tmp_path / "generated" / "gate.py").read_text()
    assert "summed = sum(branch)" in source, source
    module = load_generated("gate", root=tmp_path).Gate(alpha=0.5)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(module(x), x * 0.5 * 2 + x)


def test_a_list_the_defaults_never_make_is_still_summed_as_a_list(tmp_path, capsys):
    """No configuration checks `summed`'s add: its input is a list by its form (`each`)."""
    assert _run(tmp_path, capsys, GATE, "build", name="gate")[0] == 0
    source = (tmp_path / "generated" / "gate.py").read_text()
    assert "summed = sum(branch)" in source, source


def test_a_let_s_test_the_defaults_never_take_warns_and_its_example_is_checked(
        tmp_path, capsys):
    """`fc2` reads the Linear to `width` as if it had `dim` features: right at the default
    (hidden None), wrong for every given `hidden`; the example finds it."""
    code, err = _run(tmp_path, capsys, HIDDEN, "check", "-q")
    assert code == 0 and "warning[W102]: 'hidden' holds for no value" in err, err
    assert "give it an `example:` where `hidden` holds, and both are checked" in err, err
    given = HIDDEN.replace("hidden: {default: null}", "hidden: {default: null, example: 32}")
    code, err = _run(tmp_path, capsys, given, "check", "-q")
    assert code == 1 and "error[E403]: node 'fc2'" in err and "(when hidden=32)" in err, err


@pytest.mark.parametrize("param, message", [
    ("{default: true, example: false}", "every value of a bool or `choices` param is checked"),
    ("{default: a, choices: [a, b], example: b}", "an example adds none"),
    ("{default: 1.5, example: x}", "value 'x' is not of type float"),
])
def test_an_example_beside_a_default_is_refused_where_it_adds_nothing_or_mistypes(
        tmp_path, capsys, param, message):
    text = "name: P\nparams:\n  p: PARAM\ninputs: {x: [B, C]}\ngraph:\n" \
           "  y: {op: identity, in: x}\noutputs: y\n"
    code, err = _run(tmp_path, capsys, text.replace("PARAM", param), "check")
    assert code == 1 and "spec.yaml:3:" in err and message in err, err


def test_an_example_that_breaks_requires_is_located(tmp_path, capsys):
    text = ("name: P\nparams:\n  p: {default: 0.5, example: 2.0}\nrequires: [p < 1]\n"
            "inputs: {x: [B, C]}\ngraph:\n  y: {op: mul, in: x, other: p}\noutputs: y\n")
    code, err = _run(tmp_path, capsys, text, "check")
    assert code == 1 and "its example 2.0 breaks requirement 'p < 1'" in err, err


def test_a_when_comparing_a_choice_param_with_another_value_is_an_error(tmp_path, capsys):
    text = """\
name: Dead
params:
  act: {default: gelu, choices: [relu, gelu]}
inputs:
  x: [B, 8]
graph:
  f:
    seq:
      - {op: Linear, args: [8, 8]}
      - {when: act == 'rleu', op: ReLU}
      - {when: "act in ('gelu', 'tanh')", op: GELU}
    in: x
outputs: f
"""
    code, err = _run(tmp_path, capsys, text, "build")
    assert code == 1 and not (tmp_path / "generated").exists()
    assert ("spec.yaml:10:23: error[E202]: `act == 'rleu'` compares param 'act' with 'rleu', "
            "which is not one of its choices ('relu', 'gelu'); did you mean 'relu'?") in err, err
    assert "with 'tanh', which is not one of its choices" in err, err


def test_an_add_of_a_list_input_sums_its_items(tmp_path, capsys):
    text = ("name: ListIn\ninputs:\n  xs:\n    items:\n      a: [B, C]\n      b: [B, C]\n"
            "graph:\n  summed: {op: add, in: xs}\noutputs: summed\n")
    assert _run(tmp_path, capsys, text, "build", name="listin")[0] == 0
    module = load_generated("listin", root=tmp_path).ListIn()
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(module([a, b]), a + b)


SUB = """\
name: Sub
params:
  r: {default: 1}
requires: [r >= 1, N % r == 0]
inputs:
  x: [B, N, 8]
graph:
  pool: {when: r > 1, op: AvgPool1d, args: [r]}
  x_t: {op: transpose, in: x, dim0: 1, dim1: 2, shape: [B, 8, N]}
  kv:
    cases:
      - {when: r > 1, apply: pool, in: x_t}
      - {when: r == 1, op: identity, in: x_t}
  scores: {op: matmul, in: [x, kv]}
outputs: scores
"""
CALLER = """\
name: Caller
params:
  r: {default: 1}
requires: [r >= 1, N % r == 0]
inputs:
  x: [B, N, 8]
  bias: [N, N]
graph:
  sub: {use: sub, r: r, in: x}
  out: {op: add, in: [sub, bias]}
outputs: out
"""


def test_a_sub_spec_s_branch_over_a_param_passed_on_is_checked_in_the_caller(
        tmp_path, capsys):
    """The caller's `r` is a symbol over every value; `Sub` takes its identity branch at the
    default r = 1. The caller's configurations split on `r > 1` too, so the pooled branch
    meets the (N, N) bias: an error there, where both were judged at r = 1 before."""
    (tmp_path / "sub.yaml").write_text(SUB)
    code, err = _run(tmp_path, capsys, CALLER, "check", "-q", name="caller")
    assert code == 1 and "spec.yaml" not in err, err
    assert "caller.yaml:10:3: error[E403]: node 'out': cannot broadcast" in err, err
    assert "(when r=2)" in err, err
    fixed = CALLER.replace("bias: [N, N]", "bias: [N, 'N // r']")
    code, out = _run(tmp_path, capsys, fixed, "check", name="caller")
    assert code == 0 and "2 configurations" in out, out


POOL = """\
name: Pool
params:
  c: 8
  r: 1
requires: [r == 1 or H >= r, r == 1 or W >= r]
inputs:
  x: [B, c, H, W]
graph:
  y:
    cases:
      - {when: r == 1, op: identity, in: x}
      - {when: r > 1, op: AvgPool2d, args: [r], in: x}
outputs: y
"""
LOOPED = """\
params:
  c: 8
  k: 1
requires: [H >= k, W >= k]
inputs:
  x: [B, c, H, W]
graph:
"""
IN_EACH = "name: InEach\n" + LOOPED + """\
  e: {each: i in range(2), use: pool, c: c, r: k + i, in: x, shape: [B, c, H, W]}
  t: {op: stack, in: e, dim: 0}
outputs: t
"""
IN_BODY = "name: InBody\n" + LOOPED + """\
  layers:
    each: range(2)
    in: x
    shape: [B, c, H, W]
    body:
      p: {use: pool, c: c, r: k, in: x}
      q: {op: ReLU, in: p}
outputs: layers
"""


@pytest.mark.parametrize("text, node", [(IN_EACH, "e"), (IN_BODY, "layers")])
def test_a_sub_spec_s_branch_inside_a_loop_is_checked_in_the_caller(tmp_path, capsys, text,
                                                                     node):
    """`r: k + i` in an `each` (i at each item) and `r: k` in a loop body: the pooling
    branch (r > 1) keeps no [B, c, H, W]; both checked clean and built modules of another
    shape."""
    (tmp_path / "pool.yaml").write_text(POOL)
    code, err = _run(tmp_path, capsys, text, "check", "-q")
    assert code == 1 and f"node '{node}': shape (B, c, 1 + ((H - k) // k)" in err, err


def test_a_variant_that_narrows_choices_leaves_the_base_s_branches_out(tmp_path, capsys):
    """The advice for too many configurations (`choices: [VALUE]` in a variant) made the
    base's other `when:`s E202 (a value outside the choices)."""
    (tmp_path / "base.yaml").write_text(
        "name: Base\nparams:\n  k: {default: 3, choices: [3, 7]}\ninputs: {x: [B, C]}\n"
        "graph:\n  y:\n    cases:\n      - {when: k == 3, op: ReLU, in: x}\n"
        "      - {when: k == 7, op: Tanh, in: x}\noutputs: y\n")
    text = "extends: base.yaml\nname: Narrow\nparams:\n  k: {choices: [3]}\n"
    code, out = _run(tmp_path, capsys, text, "check")
    assert code == 0 and "E202" not in out and "W102" not in out, out


def test_a_let_s_test_over_an_int_param_is_checked_both_ways_without_a_warning(
        tmp_path, capsys):
    """An int param is a symbol: `hidden if hidden else dim` is both branches already (the
    wrong fc2 is found at hidden=1), so no W102 claims the branch is unchecked."""
    text = HIDDEN.replace("hidden: {default: null}", "hidden: 0")
    code, out = _run(tmp_path, capsys, text, "check")
    assert code == 1 and "W102" not in out and "counterexample: dim=17, hidden=1" in out, out


def test_an_example_of_null_beside_a_default_is_tried(tmp_path, capsys):
    text = HIDDEN.replace("hidden: {default: null}", "hidden: {type: int, default: 32, "
                          "example: null}").replace("width: hidden if hidden else dim",
                                                    "width: hidden if hidden is not None else dim")
    right = text.replace("args: [dim, dim], in: fc1", "args: [width, dim], in: fc1")
    code, out = _run(tmp_path, capsys, right, "check")
    assert code == 0 and "2 configurations" in out, out


def test_a_hint_in_an_example_s_configuration_is_guarded_and_pastes(tmp_path, capsys):
    """The chunk into len(gl) parts needs C % 2 == 0 at the example gl = [1, 2] only: the
    line is guarded by the example (pasted unguarded, the default module refused C = 5),
    quoted for YAML's flow list, and pasted it checks."""
    text = ("name: ExChunk\nparams:\n  gl: {default: [1], example: [1, 2]}\ninputs:\n"
            "  x: [B, C, N]\ngraph:\n  parts: {op: chunk, in: x, chunks: len(gl), dim: 1}\n"
            "  s: {op: stack, in: parts, dim: 0}\n"
            "  m: {op: mean, in: s, dim: 0, shape: [B, 'C // len(gl)', N]}\noutputs: m\n")
    code, err = _run(tmp_path, capsys, text, "check", "-q")
    line = 'requires: ["gl != [1, 2] or C % 2 == 0"]'
    assert code == 1 and line in err, err
    code, out = _run(tmp_path, capsys, text.replace("inputs:", line + "\ninputs:"), "check")
    assert code == 0 and "2 configurations" in out, out


def test_a_divisibility_in_another_configuration_asks_for_its_guarded_line(tmp_path, capsys):
    text = ("name: G\nparams:\n  c: 6\n  grouped: false\ninputs:\n  x: [B, c, N]\ngraph:\n"
            "  y: {op: Conv1d, args: [c, c, 1], groups: '4 if grouped else 1', in: x}\n"
            "outputs: y\n")
    code, err = _run(tmp_path, capsys, text, "check", "-q")
    assert code == 1 and "requires: [not grouped or c % 4 == 0]" in err, err


def test_a_body_s_shape_may_not_rebind_a_dim_of_the_spec(tmp_path, capsys):
    """`shape: [B, c, Hy]` inside the body bound Hy anew; the loop's `_, _, Hy = ...`
    replaced the Hy of input y that forward read after the loop (a wrong output)."""
    text = """\
name: Clobber
params:
  c: 4
requires: [N >= 2]
inputs:
  x: [B, c, N]
  y: [B, c, Hy, Wy]
graph:
  stages:
    each: range(2)
    in: x
    shape: [B, c, N]
    body:
      pooled: {op: MaxPool1d, args: [2], in: x, shape: [B, c, Hy]}
      up: {op: interpolate, in: pooled, size: [N], mode: nearest, shape: [B, c, N]}
  v: {op: view, in: stages, to: [B, c, N, 1]}
  out: {op: interpolate, in: v, size: [Hy, Wy], mode: nearest, shape: [B, c, Hy, Wy]}
outputs: out
"""
    code, err = _run(tmp_path, capsys, text, "build")
    assert code == 1 and "spec.yaml:14:63: error[E106]: dim 'Hy' of node 'pooled'" in err, err
    assert _run(tmp_path, capsys, text.replace("c, Hy]}", "c, Hp]}"), "build")[0] == 0
    # a name the spec binds only after the loop: its own unpacking comes after the loop's
    after = text.replace("c, Hy]}", "c, Hp]}").replace(
        "  out: {op: interpolate,", "  halved: {op: MaxPool1d, args: [2], in: stages, "
        "shape: [B, c, Hp]}\n  out: {op: interpolate,").replace(
        "in: stages, to: [B, c, N, 1]", "in: halved, to: [B, c, Hp, 1]")
    assert _run(tmp_path, capsys, after, "build")[0] == 0, capsys.readouterr().err


def test_an_error_in_a_pinned_configuration_says_what_it_stands_for(tmp_path, capsys):
    """`(when k=2)` with a counterexample at other k read as a contradiction (RepMLP's
    `h=14` beside h=15): the note says the configuration stands for every k where `k == 1`
    (copy 0's `r == 1`) is false."""
    (tmp_path / "pool.yaml").write_text(POOL)
    code, err = _run(tmp_path, capsys, IN_EACH, "check", "-q")
    assert code == 1 and "(when k=2)" in err, err
    assert "note: k=2 stands for every value where `k == 1` is false: samples are drawn " \
           "there" in err, err


@pytest.mark.parametrize("loop", [
    "seq: [{use: pool, c: c, r: 'k + i', each: i in range(2)}]",  # a seq item's own each
    "each: i in range(3 if deep else 1)\n    use: pool\n    c: c\n    r: k + i",
    "each: r in ks\n    use: pool\n    c: c\n    r: r",  # items that are expressions of k
    "each: r in range(k, k + 1)\n    use: pool\n    c: c\n    r: r",
])
def test_a_sub_spec_s_branch_is_checked_at_every_item_of_its_loop(tmp_path, capsys, loop):
    """A second review: the per-item conditions missed a seq item's `each`, took a loop's
    count at the defaults only (`range(3 if deep else 1)`) and its items as the defaults'
    numbers (`ks: [k, k]`, `range(k, k + 1)`): each built a module of another shape (all
    identity at the default k = 1, a pool at k = 2)."""
    (tmp_path / "pool.yaml").write_text(POOL)
    text = ("name: Looped\nparams:\n  c: 8\n  k: 1\n  deep: false\nlet:\n  ks: [k, k]\n"
            "requires: [H >= 2 * k + 2, W >= 2 * k + 2]\ninputs:\n  x: [B, c, H, W]\n"
            f"graph:\n  e:\n    {loop}\n    in: x\n    shape: [B, c, H, W]\noutputs: e\n")
    code, err = _run(tmp_path, capsys, text, "check", "-q")
    assert code == 1 and "error[E400]: node 'e': shape (B, c, " in err and "k=2)" in err, err


@pytest.mark.parametrize("let, message", [
    ("s: 4 / r", "reads 's', 4.0 here: a float"),
    ("s: r * 1.5", "reads 's', 1.5 here: a float"),
])
def test_a_long_formula_may_not_read_a_float_let(tmp_path, capsys, let, message):
    text = (f"name: L\nparams:\n  r: 1\nlet:\n  {let}\ninputs: {{x: [B, C]}}\ngraph:\n"
            "  idx: {buffer: [4], init: formula, index: [i], dtype: long, formula: 'i * s', "
            "unused: true}\n  y: {op: identity, in: x}\noutputs: y\n")
    code, err = _run(tmp_path, capsys, text, "check", "-q")
    assert code == 1 and message in err, err


def test_an_int_param_s_null_example_beside_a_when_is_checked(tmp_path, capsys):
    text = ("name: N\nparams:\n  r: {type: int, default: 2, example: null}\n"
            "inputs: {x: [B, C]}\ngraph:\n  y:\n    cases:\n"
            "      - {when: 'r is not None and r > 4', op: ReLU, in: x}\n"
            "      - {when: 'r is None or r <= 4', op: Tanh, in: x}\noutputs: y\n")
    code, out = _run(tmp_path, capsys, text, "check")
    assert code == 0 and "3 configurations" in out, out  # was a TypeError, exit 70


@pytest.mark.parametrize("param, when", [
    ("{default: max_pool, choices: [max_pool, avg_pool, conv]}", "\"'pool' in mode\""),
    ("{default: [1], choices: [[1], [1, 2]]}", "'mode == [1, 2]'"),
    ("{default: [1], choices: [[1], [1, 2]]}", "2 in mode"),
])
def test_a_choices_comparison_that_can_hold_is_no_error(tmp_path, capsys, param, when):
    inner = when[1:-1] if when[0] in "\"'" else when
    text = (f"name: Choice\nparams:\n  mode: {param}\ninputs: {{x: [B, C]}}\ngraph:\n  y:\n"
            f"    cases:\n      - {{when: {when}, op: ReLU, in: x}}\n"
            f"      - {{when: \"not ({inner})\", op: Tanh, in: x}}\noutputs: y\n")
    code, out = _run(tmp_path, capsys, text, "check")
    assert code == 0 and "E202" not in out, out


def test_a_variant_that_does_not_narrow_keeps_its_base_s_choice_errors(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(
        "name: Base\nparams:\n  act: {default: relu, choices: [relu, gelu]}\n"
        "inputs: {x: [B, C]}\ngraph:\n  y:\n    cases:\n"
        "      - {when: act == 'relu', op: ReLU, in: x}\n"
        "      - {when: act == 'gleu', op: GELU, in: x}\noutputs: y\n")
    code, err = _run(tmp_path, capsys, "extends: base.yaml\nname: V\nparams:\n  act: gelu\n",
                     "check", "-q")
    assert code == 1 and "compares param 'act' with 'gleu'" in err, err


def test_a_variant_may_narrow_a_short_form_bool(tmp_path, capsys):
    """The advice for too many configurations on `flag: false` (no mapping) lost the
    default: 'needs a type or a default'."""
    (tmp_path / "base.yaml").write_text(
        "name: Base\nparams:\n  flag: false\ninputs: {x: [B, C]}\ngraph:\n  y:\n    cases:\n"
        "      - {when: flag, op: ReLU, in: x}\n      - {when: not flag, op: Tanh, in: x}\n"
        "outputs: y\n")
    code, out = _run(tmp_path, capsys, "extends: base.yaml\nname: V\nparams:\n"
                     "  flag: {choices: [false]}\n", "check")
    assert code == 0 and "1 configuration" in out, out
