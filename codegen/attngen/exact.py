"""A dim's value at a sample, computed exactly in Python: what `expr.xreplace(sample)` gives.

The prover tests equalities it cannot prove on samples (prover.py). Substituting a sample
into a sympy expression makes sympy evaluate every node again, and its `floor`, `Mod` and
`Piecewise` search for bounds and simplifications before giving a number: milliseconds per
node (ECA's adaptive kernel size, a Piecewise of floors of logs, took seconds over its 24
samples). Here integers and rationals are Python `Fraction`s and the usual nodes (+, *,
integer powers, floor, ceiling, Mod, Max, Min, Abs, Piecewise and its comparisons) are
computed exactly, as sympy defines them on rationals. A log is a float, carried as an
approximation: a floor or comparison of one is decided only when it is more than 1e-9
(relative) away from the boundary. Anything else (a square root of a negative, a division
by zero, an approximation too close to call) is left to sympy, once per distinct
subexpression: the answer is always the one sympy gives.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import sympy

_UNKNOWN = object()  # not decided here: sympy decides this node
_MARGIN = 1e-9  # relative: how far a float approximation must be from a boundary
_COMPARE = {
    sympy.Eq: lambda a, b: a == b, sympy.Ne: lambda a, b: a != b,
    sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
}


def at(expr: Any, sample: dict[Any, Any]) -> int | float | None:
    """The number `expr` takes with the sample's values (int when it is an integer), None
    when it is not a number there: `dims.to_number(expr.xreplace(sample))`, faster."""
    value = _value(expr, sample, {})
    if not isinstance(value, Fraction):  # an approximation, a bool or undecided
        return _number(expr.xreplace(sample))
    return int(value) if value.denominator == 1 else float(value)


def _clear(v: float) -> bool:
    """Whether an approximation is far enough from every integer to floor it."""
    return abs(v - round(v)) > _MARGIN * max(1.0, abs(v))


def _number(v: Any) -> int | float | None:
    if v.is_Integer:
        return int(v)
    if v.is_Number:
        return float(v)
    return None


def _value(e: Any, sample: dict, memo: dict) -> Any:
    """A Fraction, a bool (a condition), or _UNKNOWN."""
    if e in memo:
        return memo[e]
    out = _compute(e, sample, memo)
    if out is _UNKNOWN and not e.is_Atom:  # sympy's value of this node, if rational
        v = e.xreplace(sample)
        out = Fraction(int(v.p), int(v.q)) if v.is_Rational else (
            bool(v) if v in (sympy.true, sympy.false) else _UNKNOWN)
    memo[e] = out
    return out


def _compute(e: Any, sample: dict, memo: dict) -> Any:
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    if e.is_Symbol:
        v = sample.get(e)
        return Fraction(int(v.p), int(v.q)) if v is not None and v.is_Rational else _UNKNOWN
    if e is sympy.true or e is sympy.false:
        return bool(e)
    if isinstance(e, sympy.Piecewise):
        for branch, cond in e.args:
            holds = _value(cond, sample, memo)
            if holds is _UNKNOWN:
                return _UNKNOWN
            if holds:
                return _value(branch, sample, memo)
        return _UNKNOWN
    if e.is_Mul:
        ratio = _log_ratio(e, sample, memo)
        if ratio is not None:
            return ratio
    args = [_value(a, sample, memo) for a in e.args]
    if any(a is _UNKNOWN for a in args):
        return _UNKNOWN
    func = e.func
    if func in _COMPARE:
        a, b = args
        if isinstance(a - b, float) and abs(a - b) <= _MARGIN * max(1.0, abs(a), abs(b)):
            return _UNKNOWN  # too close to call with an approximation
        return _COMPARE[func](a, b)
    if func is sympy.And:
        return all(args)
    if func is sympy.Or:
        return any(args)
    if func is sympy.Not:
        return not args[0]
    if any(isinstance(a, bool) for a in args):
        return _UNKNOWN
    if func is sympy.Add:
        return sum(args, Fraction(0))
    if func is sympy.Mul:
        return math.prod(args, start=Fraction(1))
    if func is sympy.Pow:
        base, exp = args
        if isinstance(base, Fraction) and isinstance(exp, Fraction) and exp.denominator == 1:
            return _UNKNOWN if base == 0 and exp < 0 else base ** int(exp)
        return float(base) ** float(exp) if base > 0 else _UNKNOWN
    if func is sympy.log and len(args) == 1:
        x = args[0]
        if x == 1:
            return Fraction(0)
        return math.log(x) if x > 0 else _UNKNOWN
    if func in (sympy.floor, sympy.ceiling):
        x = args[0]
        if isinstance(x, float) and not _clear(x):
            return _UNKNOWN
        return Fraction(math.floor(x) if func is sympy.floor else math.ceil(x))
    if func is sympy.Mod:
        a, b = args
        if not (isinstance(a, Fraction) and isinstance(b, Fraction)) or b == 0:
            return _UNKNOWN
        return a - b * math.floor(a / b)
    if func is sympy.Max:
        return max(args)
    if func is sympy.Min:
        return min(args)
    if func is sympy.Abs:
        return abs(args[0])
    return _UNKNOWN


def _log_ratio(e: Any, sample: dict, memo: dict) -> Fraction | None:
    """`c * log(x) / log(y)` exactly when x and y are integers > 1 with x**q == y**p
    (log2(64) is 6, where the floats give 5.999...): the product with the ratio p/q."""
    logs = [a for a in e.args if isinstance(a, sympy.log)]
    inverse = [a for a in e.args if a.is_Pow and a.exp == -1 and isinstance(a.base, sympy.log)]
    if len(logs) != 1 or len(inverse) != 1:
        return None
    x = _value(logs[0].args[0], sample, memo)
    y = _value(inverse[0].base.args[0], sample, memo)
    if not all(isinstance(v, Fraction) and v.denominator == 1 and 1 < v < 2**64
               for v in (x, y)):
        return None
    r = Fraction(math.log(x) / math.log(y)).limit_denominator(64)
    if x ** r.denominator != y ** r.numerator:
        return None
    rest = [_value(a, sample, memo) for a in e.args if a is not logs[0] and a is not inverse[0]]
    if not all(isinstance(v, Fraction) for v in rest):
        return None
    return math.prod(rest, start=r)
