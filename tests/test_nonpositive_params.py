"""Int params that may be 0 or less: a positive default is a size, tried at positive values
only, unless `requires` states a lower bound (`f >= -3`) or a value (`side == 0`) at or
below 0; a `when:` that no value tried makes true is W102 (its branch was never checked: a
wrong node there passed `check` and failed at run time)."""

from __future__ import annotations

import pytest
from attngen.checker import check
from attngen.cli import main
from attngen.loader import load

BRANCHES = """\
name: Neg
params: {f: {default: 2}}
requires: [REQ]
inputs: {x: [B, C]}
graph:
  y: {cases: [{when: f > 0, op: identity, in: x}, {when: f <= 0, op: sum, in: x, dim: 1}]}
  out: {op: mul, in: y, other: f, shape: [B, C]}
outputs: out
"""


def _check(tmp_path, capsys, text, *flags):
    path = tmp_path / "neg.yaml"
    path.write_text(text)
    code = main(["check", "-q", *flags, str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("req", ["f >= -3", "-3 <= f", "f > -4", "-1 < f and f < 9"])
def test_a_stated_lower_bound_checks_the_branch_below_one(tmp_path, capsys, req):
    code, err = _check(tmp_path, capsys, BRANCHES.replace("REQ", req))
    assert code == 1
    assert "neg.yaml:7:35: error[E400]: node 'out': shape (B,) has 1 dims" in err
    assert "(when f=0)" in err


def test_a_branch_no_value_reaches_warns_with_the_line_to_add(tmp_path, capsys):
    text = BRANCHES.replace("requires: [REQ]\n", "")
    code, err = _check(tmp_path, capsys, text)
    assert code == 0
    assert ("neg.yaml:5:58: warning[W102]: 'f <= 0' holds for no value the checker tries: "
            "what it guards is never checked") in err
    assert "if 'f' may be -1 or less, `requires: [f >= -1]`" in err
    assert _check(tmp_path, capsys, text, "-W", "error")[0] == 1
    # the line pasted: the branch is checked, and its wrong node found
    code, err = _check(tmp_path, capsys, BRANCHES.replace("REQ", "f >= -1"))
    assert code == 1 and "error[E400]" in err and "W102" not in err


def test_a_positive_bound_keeps_the_branch_dead_and_says_so(tmp_path, capsys):
    code, err = _check(tmp_path, capsys, BRANCHES.replace("REQ", "f >= 1"))
    assert code == 0 and "warning[W102]: 'f <= 0'" in err
    assert "no value tried makes it hold" in err and "requires: [f >=" not in err


def test_a_value_requires_names_is_tried_and_no_other(tmp_path, capsys):
    text = BRANCHES.replace("REQ", "f == 0 or f % 2 == 0").replace(
        "{when: f <= 0, op: sum, in: x, dim: 1}", "{when: f == 0, op: identity, in: x}, "
        "{when: f < 0, op: sum, in: x, dim: 1}")
    code, err = _check(tmp_path, capsys, text)
    assert code == 0  # f = 0 checked (identity), f = -2 is not tried: W102 at f < 0
    assert "warning[W102]: 'f < 0'" in err and "'f == 0'" not in err


def test_biformers_no_lce_branch_is_checked():
    spec = load("specs/bi_level_routing_attention.yaml")
    configs = check(spec).configs
    assert {c.get("side_dwconv", 3) for c in configs} == {3, 0}


@pytest.mark.parametrize("req", ["f + 3 >= 0", "not f < -3", "0 <= f + 1"])
def test_a_lower_bound_written_otherwise_is_read_too(tmp_path, capsys, req):
    code, err = _check(tmp_path, capsys, BRANCHES.replace("REQ", req))
    assert code == 1 and "error[E400]" in err and "W102" not in err


def test_branches_behind_a_product_are_tried(tmp_path, capsys):
    text = BRANCHES.replace("requires: [REQ]\n", "").replace("f > 0", "f // 10 != 3") \
        .replace("f <= 0", "f // 10 == 3")
    code, err = _check(tmp_path, capsys, text)  # f = 30: the second case is checked
    assert code == 1 and "(when f=30)" in err and "W102" not in err


def test_a_double_negation_is_not_written(tmp_path):
    import attngen
    path = tmp_path / "neg.yaml"
    path.write_text(BRANCHES.replace("REQ", "not f < -3").replace(
        "{when: f <= 0, op: sum, in: x, dim: 1}", "{when: f <= 0, op: identity, in: x}"))
    source = attngen.load(str(path)).source()
    assert "if f < -3:" in source and "not (not" not in source
