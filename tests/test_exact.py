"""exact.at: a dim's value at a sample is the one sympy gives, for every kind of node."""
import random

import pytest
import sympy
from attngen import exact
from attngen.dims import to_number

A, B, C = sympy.symbols("a b c", integer=True, positive=True)


def _random_expr(rng: random.Random, depth: int):
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([A, B, C, sympy.Integer(rng.randint(-3, 9)),
                           sympy.Rational(rng.randint(1, 7), rng.randint(2, 5))])
    x, y = _random_expr(rng, depth - 1), _random_expr(rng, depth - 1)
    kind = rng.choice(["add", "mul", "div", "pow", "floor", "ceiling", "mod", "max", "min",
                       "abs", "piecewise", "log2", "log"])
    try:
        return _node(kind, x, y, rng)
    except TypeError:  # sympy refuses to build it (comparing a complex): the operand
        return x


def _node(kind: str, x, y, rng: random.Random):
    match kind:
        case "add":
            return x + y
        case "mul":
            return x * y
        case "div":
            return x / y
        case "pow":
            return x ** rng.choice([2, 3, -1, sympy.Rational(1, 2)])
        case "floor":
            return sympy.floor(x)
        case "ceiling":
            return sympy.ceiling(x)
        case "mod":
            return sympy.Mod(x, y) if y != 0 else sympy.Mod(x, 3)
        case "max":
            return sympy.Max(x, y)
        case "min":
            return sympy.Min(x, y)
        case "abs":
            return sympy.Abs(x - y)
        case "piecewise":
            cond = rng.choice([sympy.Ne(sympy.Mod(x, 2), 0), sympy.Eq(x, y), x < y, x >= y])
            return sympy.Piecewise((x, cond), (y + 1, True))
        case "log2":  # ECA's adaptive kernel: floor((b + log2(channel)) / gamma)
            return sympy.floor((B + sympy.log(A) / sympy.log(2)) / C)
        case _:
            return sympy.log(x)


def test_values_agree_with_sympy_on_random_expressions():
    rng = random.Random(16)
    checked = 0
    for _ in range(120):
        expr = _random_expr(rng, 3)
        for _ in range(3):
            sample = {A: sympy.Integer(rng.choice([1, 2, 3, 8, 64, 65, 100, 256])),
                      B: sympy.Integer(rng.randint(1, 6)), C: sympy.Integer(rng.randint(1, 4))}
            try:
                want = to_number(expr.xreplace(sample))
            except (ZeroDivisionError, TypeError) as exc:  # Mod by 0, comparing a complex
                with pytest.raises(type(exc)):
                    exact.at(expr, sample)
                continue
            got = exact.at(expr, sample)
            assert got == want or (got != got and want != want), (expr, sample)  # nan: nan
            checked += want is not None
    assert checked > 160  # most samples give a number: the fast paths were exercised


def test_powers_of_two_are_exact_through_logs():
    expr = sympy.floor(sympy.log(A) / sympy.log(2))
    for n in range(1, 40):
        assert exact.at(expr, {A: sympy.Integer(2 ** n)}) == n
        # too close to call as floats (2**31 - 1): sympy's answer, whatever it is
        below = {A: sympy.Integer(2 ** n - 1)}
        assert exact.at(expr, below) == to_number(expr.xreplace(below))


def test_a_name_without_a_value_is_not_a_number():
    assert exact.at(A + B, {A: sympy.Integer(2)}) is None
    assert exact.at(sympy.floor(A / 2), {A: sympy.Integer(7)}) == 3
