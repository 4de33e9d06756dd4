"""Equality facts of `requires`, for the prover to rewrite dims with.

`nq == H * W` states an equality; `ratio == 1 or nq == H * W` states it where its guards
(the other operands of `or`) are false, decided with the configuration's values of the
bool/`choices` and int params (prover.guard_values). A guard over an int param is one of
the conditions configurations split on (guards, configs.region), so its truth is the
same over every value the configuration's samples take; a guard over any other param
decides nothing, and its fact is not used. Each fact is solved for one symbol (an input dim
first, with coefficient 1 where one has it) and becomes a substitution `nq -> H*W`.
Every fact is enforced where the module runs: one that names an input dim by the
generated `forward`, one over params by the constructor.

This module is the one reader of equality facts: the prover's substitutions
(equality_rewrites), and verify's samples (impose_equalities) and export dims
(fixed_dims), which take a fact written `n == N` or `N == n` alike.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

import sympy

from .dims import fmt_dim, is_dim, name_of
from .errors import SpecError, flow_list, guarded
from .expr import Expr
from .model import Spec


def active_equalities(spec: Spec, values: Mapping[str, object]) -> list[tuple[Expr, Expr]]:
    """(lhs, rhs) of every equality `requires` states where the names in `values` have
    those values (an operand that names any other is not a guard: undecided)."""
    out: list[tuple[Expr, Expr]] = []
    for req in spec.requires:
        for lhs, rhs in _equalities(req.tree, req, values):
            out.append((_sub(lhs, req), _sub(rhs, req)))
    return out


def guards(spec: Spec) -> list[Expr]:
    """The guards of the guarded equality facts: each operand of an `or` (within `and`s)
    over params and lets only, beside one operand that states an equality (`ratio == 1`
    of `ratio == 1 or nq == H * W`)."""
    known = set(spec.params) | set(spec.lets)
    out: list[Expr] = []
    for req in spec.requires:
        todo = [req.tree]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
                todo += node.values
            elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
                operands = [_sub(v, req) for v in node.values]
                rest = [e for e in operands if not e.names <= known]
                if len(rest) == 1 and _states_equality(rest[0].tree):
                    out += [e for e in operands if e.names <= known]
                    todo.append(rest[0].tree)
    return out


def _states_equality(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Compare) and isinstance(n.ops[0], ast.Eq)
               and not (isinstance(n.left, ast.BinOp) and isinstance(n.left.op, ast.Mod))
               for n in ast.walk(node))


def _sub(node: ast.expr, req: Expr) -> Expr:
    return Expr(ast.unparse(node), node, req.loc)


def _equalities(node: ast.expr, req: Expr,
                values: Mapping[str, object]) -> list[tuple[ast.expr, ast.expr]]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        if isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mod):
            return []  # `C % g == 0`: a divisibility fact (prover.requirement_rewrites)
        return [(node.left, node.comparators[0])]
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return [fact for v in node.values for fact in _equalities(v, req, values)]
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        undecided = []
        for operand in node.values:
            try:
                held = _sub(operand, req).value(values)
            except (SpecError, ArithmeticError, ValueError, TypeError):
                undecided.append(operand)  # names an input dim: not a guard
                continue
            if held:
                return []  # a guard holds: the fact does not apply here
        return _equalities(undecided[0], req, values) if len(undecided) == 1 else []
    return []


def _dim_sides(lhs: Expr, rhs: Expr, dims: Iterable[str]) -> list[tuple[str, Expr]]:
    """(DIM, E) for each side of `lhs == rhs` that is an input dim of `dims` named alone,
    the left side first: `n == N` and `N == n` both give (N, n) where N is the dim."""
    dims = set(dims)
    return [(side.text, other) for side, other in ((lhs, rhs), (rhs, lhs))
            if side.text in dims]


def impose_equalities(spec: Spec, env: dict[str, Any], dims: dict[str, int]) -> None:
    """Make the equality facts that hold at `env`'s params and lets true by construction:
    for each, the first side that names an input dim of `dims` alone takes the value of
    the other side (where that is an int of at least 1), in `env` and `dims` alike; a dim
    no divisibility fact names goes first (`H == W` with `H % 16 == 0`: W takes H's value,
    which was made a multiple of 16)."""
    guards = {k: v for k, v in env.items() if k not in dims}
    divided = {name for name, _, _ in spec.divisibility()}
    for lhs, rhs in active_equalities(spec, guards):
        sides = sorted(_dim_sides(lhs, rhs, dims), key=lambda side: side[0] in divided)
        for dim, other in sides:
            if isinstance(v := other.value(env), int) and v >= 1:
                env[dim] = dims[dim] = v
                break


def fixed_dims(spec: Spec, values: Mapping[str, object], dims: Iterable[str]) -> set[str]:
    """The input dims (of `dims`) that an equality fact holding at `values` sets equal to
    an expression over no input dim: AFT_FULL's `n == N` fixes N to the param n."""
    dims = set(dims)
    return {dim for lhs, rhs in active_equalities(spec, values)
            for dim, other in _dim_sides(lhs, rhs, dims) if not other.names & dims}


def equality_rewrites(spec: Spec, values: Mapping[str, object], names: Mapping[str, Any],
                      dims: Iterable[Any] = (),
                      rewrites: Mapping[Any, Any] | None = None) -> dict[Any, Any]:
    """`rewrites` (symbol -> expression, each free of the symbols rewritten) extended by the
    equality facts that hold at `values`, each solved for one symbol of `names` (the
    sympy values of params, lets and input dims; `dims`, the input dims, are solved for
    first). A fact that is a number once rewritten teaches nothing and is left to the
    samples (a false one leaves none: E405)."""
    out = dict(rewrites or {})
    dims = list(dims)
    for lhs, rhs in active_equalities(spec, values):
        try:
            a, b = lhs.sympy(names), rhs.sympy(names)
        except (SpecError, ArithmeticError, ValueError, TypeError):
            continue
        if not (is_dim(a) and is_dim(b)):
            continue
        diff = sympy.expand((sympy.sympify(a) - b).xreplace(out))
        if diff.is_number:
            continue
        solved = _solve(diff, dims, set(out))
        if solved is None:
            continue
        sym, value = solved
        out = {k: v.xreplace({sym: value}) for k, v in out.items()}
        out[sym] = value
    return out


def _solve(diff: Any, dims: list[Any], taken: set[Any]) -> tuple[Any, Any] | None:
    """(s, e) with diff == 0 iff s == e: s a symbol diff is linear in (none inside a
    floor, Mod, max or min), an input dim first and a coefficient of 1 or -1 first."""
    symbols = sorted((s for s in diff.free_symbols if s not in taken),
                     key=lambda s: (s not in dims, name_of(s)))
    found = []
    for s in symbols:
        coeff = diff.coeff(s)
        rest = sympy.expand(diff - coeff * s)
        if coeff == 0 or s in coeff.free_symbols or s in rest.free_symbols:
            continue
        found.append((abs(coeff) != 1, s, sympy.expand(-rest / coeff)))
    if not found:
        return None
    _, s, value = min(found, key=lambda f: f[0])  # stable: the first with coefficient 1
    return s, value


def equality_hint(a: Any, b: Any, dims: Iterable[str], names: Iterable[str],
                  guard: str = "") -> str:
    """If a == b would hold with an input dim equal to the other side (`nq` vs `H*W`), the
    `requires` line that states it: `nq == H*W`, or `not reduce or nq == H*W` under
    `guard` (the condition that is false in this configuration). `dims` are the input
    dims a requirement may name, `names` every name it may (params, lets, dims)."""
    a, b = sympy.sympify(a), sympy.sympify(b)
    dims, names = set(dims), set(names)
    pairs = [(a, b), (b, a)]
    if a.is_Mul or b.is_Mul:  # B*C*nq vs B*C*H*W: the factors they share are positive dims
        num, den = sympy.fraction(sympy.cancel(a / b))
        pairs += [(num, den), (den, num)]
    for s, other in pairs:
        free: set[Any] = getattr(other, "free_symbols", set())
        if isinstance(s, sympy.Symbol) and name_of(s) in dims and free and s not in free \
                and all(name_of(x) in names for x in free):
            stmt = f"{fmt_dim(s)} == {fmt_dim(other)}"
            return (f"this holds only when {stmt}: if the module relies on it, state it "
                    f"with requires: {flow_list([guarded(guard, stmt)])}")
    return ""


def config_guard(config: Mapping[str, object], default: Mapping[str, object]) -> str:
    """The condition that is false exactly in configurations like `config` (its values
    that differ from the default configuration's): `not reduce or ratio != 2`; '' for
    the default configuration."""
    parts = []
    for name, value in config.items():
        if value == default.get(name):
            continue
        if value is True:
            parts.append(f"not {name}")
        elif value is False:
            parts.append(name)
        elif value is None:
            parts.append(f"{name} is not None")
        else:
            parts.append(f"{name} != {value!r}")
    return " or ".join(parts)
