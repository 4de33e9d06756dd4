"""algebra.floor and is_integer_form against sympy: the shortcut must never change a value."""

from __future__ import annotations

import random

import pytest
import sympy
from attngen import algebra
from attngen.checker import check
from attngen.loader import Loader, load
from conftest import REPO_ROOT

POSITIVE = [sympy.Symbol(n, integer=True, positive=True) for n in ("H", "W", "C", "k", "r")]
SIGNED = sympy.Symbol("z", integer=True)
SYMBOLS = [*POSITIVE, SIGNED]


def _random_expr(rng: random.Random, depth: int = 0):
    if depth > 2 or rng.random() < 0.35:
        return rng.choice([*SYMBOLS, sympy.Integer(rng.randint(-5, 9)),
                           sympy.Rational(rng.randint(-7, 7), rng.randint(1, 5))])
    a, b = _random_expr(rng, depth + 1), _random_expr(rng, depth + 1)
    op = rng.choice("+-*/f%m")
    if op in "/f%" and b == 0:
        return a
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
            "f": lambda: sympy.floor(a / b), "%": lambda: sympy.Mod(a, b),
            "m": lambda: sympy.Max(a, b)}[op]()


def _value(expr, sample):
    try:
        v = expr.xreplace(sample)
    except (ZeroDivisionError, TypeError, ValueError):  # x / 0, max(zoo, ...)
        return None
    return v if v.is_Number and v.is_finite else None


def _samples(rng: random.Random, n: int = 12) -> list[dict]:
    return [{s: sympy.Integer(rng.randint(1, 40) if s.is_positive else rng.randint(-20, 20))
             for s in SYMBOLS} for _ in range(n)]


def test_floor_of_every_library_dim_is_sympys():
    """The floors the built-in library takes come out exactly as sympy.floor's."""
    seen = []
    original = algebra._floor

    def recording(x):
        seen.append(x)
        return original(x)

    algebra._floor = recording
    try:
        loader, cache = Loader(), {}
        for folder in ("specs", "specs/variants"):
            for path in sorted((REPO_ROOT / folder).glob("*.yaml")):
                check(load(path, loader), cache)
    finally:
        algebra._floor = original
    assert len(seen) > 10
    for x in seen:
        assert algebra.floor(x) == sympy.floor(x), x


def test_floor_agrees_with_sympy_on_random_expressions():
    rng = random.Random(0)
    exact = compared = 0
    for _ in range(400):
        try:
            x = _random_expr(rng)
        except (ZeroDivisionError, ValueError):
            continue
        ours, theirs = algebra.floor(x), sympy.floor(x)
        compared += 1
        if ours == theirs:
            exact += 1
            continue
        # the documented difference: a floor sympy settles by a search for bounds stays
        # a floor here; its value is the same wherever both are defined
        for sample in _samples(rng):
            a, b = _value(ours, sample), _value(theirs, sample)
            if a is not None and b is not None:
                assert a == b, (x, ours, theirs, sample)
    assert compared > 300 and exact > 0.8 * compared


@pytest.mark.parametrize("seed", range(3))
def test_integer_form_is_sound(seed):
    """Whatever is_integer_form calls an integer evaluates to an integer."""
    rng = random.Random(seed)
    claimed = 0
    for _ in range(300):
        try:
            x = _random_expr(rng)
        except (ZeroDivisionError, ValueError):
            continue
        if not algebra.is_integer_form(x):
            continue
        claimed += 1
        for sample in _samples(rng, 6):
            v = _value(x, sample)
            assert v is None or v.is_Integer, (x, sample, v)
    assert claimed > 20


def test_floor_shortcuts():
    H, k = POSITIVE[0], POSITIVE[3]
    assert algebra.floor(sympy.Rational(7, 2)) == 3
    assert algebra.floor(H - sympy.Rational(1, 2)) == H - 1  # the integer part leaves
    assert algebra.floor(2 * H + 1) == 2 * H + 1  # a stride-1 conv: nothing to do
    inner = sympy.floor(k / 2)
    assert algebra.floor(inner) is inner
    assert str(algebra.floor((H - 1) / 2)) == "floor(H/2 - 1/2)"
    # outside the integer forms (a float), sympy decides
    assert algebra.floor(H * sympy.Float(0.5)) == sympy.floor(H * sympy.Float(0.5))


@pytest.mark.parametrize("seed", range(2))
def test_tidy_keeps_every_value_and_never_lengthens(seed):
    """tidy is an identity (the same number at every sample) and never longer than e."""
    rng = random.Random(seed)
    changed = 0
    for _ in range(300):
        try:
            s = rng.choice(POSITIVE)  # floor((x + m*s) / s) has m to take out
            e = _random_expr(rng) * sympy.floor((_random_expr(rng) + rng.randint(-3, 3) * s) / s)
        except (ZeroDivisionError, ValueError):
            continue
        t = algebra.tidy(e)
        changed += t != e
        assert sympy.count_ops(t) <= sympy.count_ops(e), (e, t)
        for sample in _samples(rng, 4):
            a, b = _value(e, sample), _value(t, sample)
            assert a == b or a is None or b is None, (e, t, sample)
    assert changed > 100


def test_tidy_takes_integer_parts_out_of_floors_and_cancels_sums():
    H, W, C, k, r = POSITIVE
    assert algebra.tidy(sympy.floor((H - r) / r) + 1) == sympy.floor(H / r)
    assert algebra.tidy(sympy.floor((H + 2 * k) / k) - 2) == sympy.floor(H / k)
    assert algebra.tidy(sympy.floor(sympy.floor((C - 8) / 4) / 2) + 1) == \
        sympy.floor(sympy.floor(C / 4) / 2)  # the inner floor first
    assert algebra.tidy((H * W + H) / (W + 1)) == H
    assert algebra.tidy(sympy.Integer(36) / 9) == 4
    # nothing shorter: the form stays as written (sympy.simplify would expand the inner floor)
    conv = sympy.floor((H - k + 2 * sympy.floor(r * (k - 1) / 2 + sympy.Rational(1, 2))) / C)
    for e in (conv, H * W / sympy.floor(C / k),
              sympy.floor(H / k) * sympy.floor(W / k) * C):
        assert algebra.tidy(e) is e, e


def test_a_build_never_calls_sympy_simplify(monkeypatch):
    """The library's dims are tidied by algebra.tidy: sympy.simplify costs milliseconds a
    call, and its first call imports sympy.physics."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"sympy.simplify{args}")

    monkeypatch.setattr(sympy, "simplify", refuse)
    loader, cache = Loader(), {}
    for folder in ("specs", "specs/variants"):
        for path in sorted((REPO_ROOT / folder).glob("*.yaml")):
            check(load(path, loader), cache)


def test_shift_floors_keeps_every_value():
    """shift_floors is an identity: the same number at every sample, on random expressions."""
    rng = random.Random(3)
    shifted = 0
    for _ in range(300):
        try:
            x = _random_expr(rng) + sympy.floor(_random_expr(rng) + sympy.Rational(
                rng.randint(-9, 9), rng.randint(1, 4)))
        except (ZeroDivisionError, ValueError):
            continue
        y = algebra.shift_floors(x)
        shifted += y != x
        for sample in _samples(rng, 4):
            a, b = _value(x, sample), _value(y, sample)
            assert a == b or a is None and b is None, (x, y, sample)
    assert shifted > 50


def test_shift_floors_lets_a_conv_size_cancel():
    H = POSITIVE[0]
    a, b = sympy.floor(H / 3 + sympy.Rational(1, 3)), sympy.floor(H / 3 - sympy.Rational(2, 3)) + 1
    assert sympy.expand(a - b) != 0
    assert sympy.expand(algebra.shift_floors(a - b)) == 0
    assert algebra.shift_floors(a) is a  # a constant in [0, 1) stays


def test_the_floor_of_a_float_multiple_is_whole_by_its_form():
    """ultralytics' PSA: key_dim = int(head_dim * 0.5), head_dim = c // (c // 64). sympy
    cannot tell it whole (c // 64 may be 0), the form can; a Conv2d's channels took it for
    'not a whole number'."""
    c = sympy.Symbol("c", integer=True, positive=True)
    kd = algebra.floor(algebra.floor(c / algebra.floor(c / 64)) * sympy.Float(0.5))
    assert algebra.is_integer_form(kd)
    assert not algebra.is_integer_form(sympy.Float(0.5) * c)
