"""A dim's value at a sample, computed exactly in Python: what `expr.xreplace(sample)` gives.

The prover tests equalities it cannot prove on samples (prover.py). Substituting a sample
into a sympy expression makes sympy evaluate every node again, and its `floor`, `Mod` and
`Piecewise` search for bounds and simplifications before giving a number: milliseconds per
node (ECA's adaptive kernel size, a Piecewise of floors of logs, took seconds over its 24
samples). Here integers are Python ints, other rationals `Fraction`s, and the usual nodes (+, *,
integer powers, floor, ceiling, Mod, Max, Min, Abs, Piecewise and its comparisons) are
computed exactly, as sympy defines them on rationals. A log is a float, carried as an
approximation: a floor or comparison of one is decided only when it is more than 1e-9
(relative) away from the boundary. Anything else (a square root of a negative, a division
by zero, an approximation too close to call) is left to sympy, once per distinct
subexpression: the answer is always the one sympy gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache
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
    value = _compiled(expr)(sample, {})
    if type(value) is int:
        return value
    if type(value) is not Fraction:  # an approximation, a bool or undecided
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


# A node compiled: (sample, memo) -> its exact value (an int, or a Fraction where it is not
# whole), a float approximation, a bool (a condition), or _UNKNOWN. The dispatch on a node's
# kind is done once per expression, not at every sample (the same dims are evaluated at
# every sample of every configuration).
Node = Callable[[dict, dict], Any]


@lru_cache(maxsize=4096)
def _compiled(expr: Any) -> Node:
    seen: set[Any] = set()
    shared: set[Any] = set()
    todo = [expr]
    while todo:  # the subexpressions met more than once: evaluated once per sample
        e = todo.pop()
        if e in seen:
            shared.add(e)
        else:
            seen.add(e)
            todo.extend(e.args)
    return _compile(expr, shared, {})


def _compile(e: Any, shared: set[Any], built: dict[Any, Node]) -> Node:
    if e in built:
        return built[e]
    node = _node(e, shared, built)
    if not e.is_Atom:
        node = _or_sympy(e, node)
    if e in shared:
        node = _memoized(node, len(built))
    built[e] = node
    return node


def _or_sympy(e: Any, node: Node) -> Node:
    """sympy's value of `e`, if rational, where `node` does not decide it."""
    def value(sample: dict, memo: dict) -> Any:
        out = node(sample, memo)
        if out is _UNKNOWN:
            v = e.xreplace(sample)
            out = _rational(v) if v.is_Rational else (
                bool(v) if v in (sympy.true, sympy.false) else _UNKNOWN)
        return out
    return value


def _memoized(node: Node, slot: int) -> Node:
    def value(sample: dict, memo: dict) -> Any:
        if slot not in memo:
            memo[slot] = node(sample, memo)
        return memo[slot]
    return value


def _node(e: Any, shared: set[Any], built: dict[Any, Node]) -> Node:
    if e.is_Rational:
        const: Any = _rational(e)
        return lambda sample, memo: const
    if e.is_Symbol:
        def symbol(sample: dict, memo: dict) -> Any:
            v = sample.get(e)
            return _rational(v) if v is not None and v.is_Rational else _UNKNOWN
        return symbol
    if e is sympy.true or e is sympy.false:
        truth = bool(e)
        return lambda sample, memo: truth
    if isinstance(e, sympy.Piecewise):
        pairs = [(_compile(branch, shared, built), _compile(cond, shared, built))
                 for branch, cond in e.args]

        def piecewise(sample: dict, memo: dict) -> Any:
            for branch, cond in pairs:
                holds = cond(sample, memo)
                if holds is _UNKNOWN:
                    return _UNKNOWN
                if holds:
                    return branch(sample, memo)
            return _UNKNOWN
        return piecewise
    args = [_compile(a, shared, built) for a in e.args]
    op = _op(e.func, len(args))
    ratio = _log_ratio(e, shared, built) if e.is_Mul else None

    def compute(sample: dict, memo: dict) -> Any:
        if ratio is not None:
            r = ratio(sample, memo)
            if r is not None:
                return r
        values = [a(sample, memo) for a in args]
        if any(v is _UNKNOWN for v in values):
            return _UNKNOWN
        return op(values)
    return compute


def _op(func: Any, arity: int) -> Callable[[list], Any]:
    """The operation of a node of `func` on its arguments' values (each exact, a float
    approximation or a bool), as sympy defines it on rationals."""
    if func in _COMPARE:
        compare = _COMPARE[func]

        def comparison(args: list) -> Any:
            a, b = args
            if isinstance(a - b, float) and abs(a - b) <= _MARGIN * max(1.0, abs(a), abs(b)):
                return _UNKNOWN  # too close to call with an approximation
            return compare(a, b)
        return comparison
    if func is sympy.And:
        return all
    if func is sympy.Or:
        return any
    if func is sympy.Not:
        return lambda args: not args[0]
    number = _NUMBER_OPS.get(func)
    if func is sympy.log and arity != 1:
        number = None
    if number is None:
        return lambda args: _UNKNOWN

    def on_numbers(args: list) -> Any:
        if any(isinstance(a, bool) for a in args):
            return _UNKNOWN
        return number(args)
    return on_numbers


def _rational(v: Any) -> int | Fraction:
    """A sympy rational's value: an int where it is whole."""
    return int(v.p) if v.q == 1 else Fraction(int(v.p), int(v.q))


def _exact(v: Any) -> bool:
    return type(v) is int or type(v) is Fraction


def _pow(args: list) -> Any:
    base, exp = args
    if _exact(base) and _exact(exp) and exp.denominator == 1:
        if exp < 0:
            return _UNKNOWN if base == 0 else Fraction(base) ** int(exp)
        return base ** int(exp)
    return float(base) ** float(exp) if base > 0 else _UNKNOWN


def _log(args: list) -> Any:
    x = args[0]
    if x == 1:
        return 0
    return math.log(Fraction(x)) if x > 0 else _UNKNOWN  # as a float, however large x


def _rounded(func: Any) -> Callable[[list], Any]:
    def rounded(args: list) -> Any:
        x = args[0]
        if isinstance(x, float) and not _clear(x):
            return _UNKNOWN
        return math.floor(x) if func is sympy.floor else math.ceil(x)
    return rounded


def _mod(args: list) -> Any:
    a, b = args
    if not (_exact(a) and _exact(b)) or b == 0:
        return _UNKNOWN
    return a - b * (a // b)


_NUMBER_OPS: dict[Any, Callable[[list], Any]] = {
    sympy.Add: sum,
    sympy.Mul: math.prod,
    sympy.Pow: _pow,
    sympy.log: _log,
    sympy.floor: _rounded(sympy.floor),
    sympy.ceiling: _rounded(sympy.ceiling),
    sympy.Mod: _mod,
    sympy.Max: max,
    sympy.Min: min,
    sympy.Abs: lambda args: abs(args[0]),
}


def _log_ratio(e: Any, shared: set[Any], built: dict[Any, Node]
               ) -> Callable[[dict, dict], Fraction | None] | None:
    """`c * log(x) / log(y)` exactly when x and y are integers > 1 with x**q == y**p
    (log2(64) is 6, where the floats give 5.999...): the product with the ratio p/q. None
    where `e` has not that form; its node None at a sample where the values do not."""
    logs = [a for a in e.args if isinstance(a, sympy.log)]
    inverse = [a for a in e.args if a.is_Pow and a.exp == -1 and isinstance(a.base, sympy.log)]
    if len(logs) != 1 or len(inverse) != 1:
        return None
    x_node = _compile(logs[0].args[0], shared, built)
    y_node = _compile(inverse[0].base.args[0], shared, built)
    rest_nodes = [_compile(a, shared, built) for a in e.args
                  if a is not logs[0] and a is not inverse[0]]

    def ratio(sample: dict, memo: dict) -> Fraction | None:
        x, y = x_node(sample, memo), y_node(sample, memo)
        if not all(_exact(v) and v.denominator == 1 and 1 < v < 2**64 for v in (x, y)):
            return None
        r = Fraction(math.log(x) / math.log(y)).limit_denominator(64)
        if x ** r.denominator != y ** r.numerator:
            return None
        rest = [node(sample, memo) for node in rest_nodes]
        if not all(_exact(v) for v in rest):
            return None
        return math.prod(rest, start=r)
    return ratio
