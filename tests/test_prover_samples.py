"""The prover draws sample assignments only as far as a test needs them, in one order."""

from __future__ import annotations

import sympy
from attngen.prover import Prover

H = sympy.Symbol("H", integer=True, positive=True)


def _counted(drawn: list[int], values=range(1, 25)):
    for v in values:
        drawn.append(v)
        yield {H: sympy.Integer(v)}


def test_a_failing_test_stops_drawing_at_its_counterexample():
    drawn: list[int] = []
    prover = Prover({}, _counted(drawn))
    assert prover.equal(H * H, 2 * H - 1) == (False, {H: 2})  # equal at H = 1 only
    assert drawn == [1, 2]
    assert prover.divisible(H, 3) == (False, {H: 1})  # the drawn ones first, nothing new
    assert drawn == [1, 2]


def test_a_test_that_holds_sees_every_sample_and_the_order_is_kept():
    drawn: list[int] = []
    prover = Prover({}, _counted(drawn))
    assert prover.default() == {H: 1}
    assert prover.equal(sympy.floor((H + 1) / 2) + sympy.floor(H / 2), H) == (True, None)
    assert drawn == list(range(1, 25))
    assert prover.samples == [{H: v} for v in range(1, 25)]
    assert prover.equal(H, H + sympy.Mod(H, 24)) == (False, {H: 1})


def test_no_sample_tests_nothing():
    assert Prover({}, iter([])).equal(H * H, H) == (False, None)


def test_the_default_sample_keeps_the_defaults_where_first_dims_break_requires(tmp_path,
                                                                                 capsys):
    """`H >= 9` breaks the first draw's H (7): the default sample still holds C=4, g=2, so
    the error is the one the defaults have (C % g), not a zero size at random params."""
    from attngen.cli import main

    path = tmp_path / "grouped.yaml"
    path.write_text("name: Grouped\nparams:\n  C: 4\n  O: 6\n  g: 2\ninputs:\n  x: [B, C, H, W]\n"
                    "requires: [H >= 9, W >= 9]\ngraph:\n"
                    "  w: {param: [O, C // g, 3, 3], init: kaiming_uniform}\n"
                    "  out: {op: conv2d, in: [x, w], padding: 1, groups: g}\noutputs: out\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "requires: [C % g == 0]" in err and "at the default sizes" not in err, err
