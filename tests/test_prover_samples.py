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
