"""W102: the conditions no configuration makes true, whose branches are never checked.

A `when:` over an int param no value tried reaches (a size kept positive for want of a
stated lower bound: the `requires` line to add), over a float, str, list or `any` param
checked at its default alone (the `example:` to give), or a let's test that picks a value
(`hidden if hidden else dim`) over such a param. Over bool and `choices` params every value
is tried: such a condition holds in no configuration at all (a variant narrowing `choices`
leaves its base's branches out, as it means to).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import cast

from .configs import holds, int_literal, int_params, reads_through_lets
from .counts import param_values
from .errors import SpecError
from .expr import Expr
from .model import Param, Spec, whens


def never_holding(spec: Spec, configs: list[dict[str, object]]) -> list[tuple[Expr, str]]:
    """The `when:` conditions that hold in none of `configs` (the branches the checker
    found): code that no checked value reaches, each with its fix: over an int param kept
    positive (a size) for want of a stated lower bound, that bound; over a param checked at
    its default alone (a float, str, list or any), an `example:` where it holds."""
    ints = {p.name: p for p in int_params(spec, set(spec.params))}
    found: list[tuple[Expr, str]] = []
    values = [param_values(spec, c) for c in configs]
    tests = [t for t in _let_tests(spec) if not reads_through_lets(spec, t.names) & ints.keys()]
    for cond in dict.fromkeys([*whens(spec), *tests]):  # (a let over int symbols: both ways)
        try:
            if any(cond.value(v) for v in values):
                continue
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            continue
        reads = reads_through_lets(spec, cond.names)
        read = [ints[n] for n in sorted(reads) if n in ints]
        fixed = [spec.params[n] for n in sorted(reads) if n in spec.params and n not in ints
                 and spec.params[n].type != "int" and not spec.params[n].structural]
        if read:
            found.append((cond, _int_fix(spec, cond, read, configs[0])))
        elif fixed:
            found.append((cond, _example_fix(spec, cond, fixed[0], configs[0])))
        elif not spec.extends:  # (a variant that narrows `choices` leaves branches out)
            found.append((cond, "no configuration makes it hold: the bool and `choices` "
                          "params it reads take every value"))
    return found


def _let_tests(spec: Spec) -> Iterator[Expr]:
    """The conditions inside lets that pick a value: `a if TEST else b`, `TEST or b`
    (`hidden if hidden else dim`: a branch the defaults never take is never checked)."""
    for let in spec.lets.values():
        for n in ast.walk(let.expr.tree):
            tests = [n.test] if isinstance(n, ast.IfExp) else \
                n.values[:-1] if isinstance(n, ast.BoolOp) and isinstance(n.op, ast.Or) else []
            yield from (Expr(ast.unparse(t), t, let.expr.loc) for t in tests)


def _int_fix(spec: Spec, cond: Expr, read: list[Param], config: dict[str, object]) -> str:
    bounded = [p for p in read if any(p.name in r.names for r in spec.requires)]
    numbers = [k for n in ast.walk(cond.tree)
               if isinstance(n, ast.expr) and (k := int_literal(n)) is not None]
    low = min([0, *numbers]) - 1
    sizes = [p for p in read if cast(int, p.sample) > 0 and p not in bounded
             and holds(spec, cond, {**config, p.name: low}, undecided=False)]
    return (f"int params are sizes, positive, unless `requires` states a lower bound: if "
            f"'{sizes[0].name}' may be {low} or less, `requires: [{sizes[0].name} >= {low}]`"
            if sizes else "no value tried makes it hold: an int param is tried at its "
            "default, small sizes, each side of the numbers its conditions compare with "
            "and their products (at or below 0 where `requires` allows)")


def _example_fix(spec: Spec, cond: Expr, param: Param, config: dict[str, object]) -> str:
    """An `example:` for `param` that makes `cond` hold (near its numbers), else the rule."""
    numbers = [n.value for n in ast.walk(cond.tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, int | float) and not isinstance(n.value, bool)]
    tries = [1.0, 0.5, -1.0, *(float(k) + d for k in numbers for d in (1, -1, 0.5))]
    if param.type == "float":
        for value in tries:
            if holds(spec, cond, {**config, param.name: float(value)}, undecided=False):
                return (f"'{param.name}' is checked at its default alone: an `example:` is "
                        f"checked too, `{param.name}: {{default: {param.default!r}, example: "
                        f"{float(value)!r}}}`")
    return (f"'{param.name}' is checked at its default ({param.default!r}) alone: give it an "
            f"`example:` where `{cond.text}` holds, and both are checked")
