"""Bounds d >= low on dims: proofs from their form (no samples needed) and the `requires`
line that states one (ProverCtx.at_least asks both)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import sympy

from . import algebra, exact
from .dims import fmt_dim, name_of
from .expr import Expr
from .model import divisibility_fact


def at_least_text(d: Any, low: Any, gap: Any) -> str:
    """`d >= low` as a `requires` line: `W >= 3` where d - low is one name plus a number, or
    grows with its one name (a window count after a strided conv: H >= 7), else both sides
    as they are."""
    rest, term = gap.as_coeff_Add()
    if isinstance(term, sympy.Symbol) and rest.is_Integer:
        return f"{term} >= {-rest}"
    if isinstance(-term, sympy.Symbol) and rest.is_Integer:  # 7 - k: k <= 7
        return f"{-term} <= {rest}"
    least = _least(gap)
    if least is not None:
        return f"{next(iter(gap.free_symbols))} >= {least}"
    return f"{fmt_dim(d)} >= {fmt_dim(low)}"  # arithmetic binds before `>=`: no parentheses


def _least(gap: Any) -> int | None:
    """The least n >= 1 with gap >= 0 at its one name = n, where gap never falls as that name
    grows (sums, positive multiples and floors of it), so that the bound is exactly `name >=
    n`; None otherwise (or beyond 2**20)."""
    if len(gap.free_symbols) != 1 or not _grows(gap):
        return None
    sym = next(iter(gap.free_symbols))

    def holds(n: int) -> bool:
        value = exact.at(gap, {sym: sympy.Integer(n)})
        return value is not None and value >= 0

    high = 1
    while not holds(high):
        high *= 2
        if high > 2 ** 20:
            return None
    low = high // 2 + 1 if high > 1 else 1
    while low < high:  # the least n in [low, high] that holds
        mid = (low + high) // 2
        low, high = (low, mid) if holds(mid) else (mid + 1, high)
    return low


def _grows(e: Any) -> bool:
    """Whether `e` never falls as its (positive) names grow: names and numbers under +,
    floor, and products of a positive number and such terms, each at least 0 where its
    names are 1 (a window count of H times one of W)."""
    if e.is_Number or e.is_Symbol:
        return True
    if isinstance(e, sympy.Add):
        return all(_grows(a) for a in e.args)
    if isinstance(e, sympy.Mul):
        coeff, rest = e.as_coeff_Mul()
        factors = rest.args if isinstance(rest, sympy.Mul) else (rest,)
        return bool(coeff > 0) and all(
            _grows(f) and _at_ones(f) >= 0 for f in factors)
    if isinstance(e, sympy.floor):
        return _grows(e.args[0])
    return False


def _at_ones(e: Any) -> float:
    """`e` where each of its names is 1 (-inf where it has no value there)."""
    value = exact.at(e, dict.fromkeys(e.free_symbols, sympy.Integer(1)))
    return float("-inf") if value is None else value


@lru_cache(maxsize=4096)  # the same gaps (H - 1) at every conv of every configuration
def least_is_nonnegative(gap: Any) -> bool:
    """A proof of gap >= 0 from its form: a number that is, or a gap that never falls as
    its names grow (_grows), all positive, and is at least 0 where each is 1 (a padded
    conv's H + 2 - 3). Other gaps go to the samples."""
    if gap.is_Number:
        return bool(gap >= 0)
    return all(s.is_positive for s in gap.free_symbols) and _grows(gap) \
        and _at_ones(gap) >= 0


@lru_cache(maxsize=1024)  # a conv's gap, asked in every configuration
def proven(gap: Any, residues: tuple[tuple[Any, Any], ...]) -> bool:
    """ProverCtx._proven, with the sizes `requires` gives as residues (residues)."""
    rewritten = gap.xreplace(dict(residues)) if residues else gap
    return (rewritten is not gap and least_is_nonnegative(rewritten)) \
        or least_is_nonnegative(_floors_at_least(rewritten))


def residues(requires: list[Expr], symbols: Iterable[Any]) -> dict[Any, Any]:
    """Each positive symbol that a `requires` line `NAME % E == R` (E, R whole literals,
    0 <= R < E) constrains, as E*q + R: every size that satisfies it is one, q >= 0 (q >= 1
    where R is 0)."""
    by_name = {name_of(s): s for s in symbols if s.is_positive}
    out = {}
    for req in requires:
        fact = divisibility_fact(req)
        if fact is None or fact[0] not in by_name:
            continue
        name, e, r = fact[0], fact[1].tree, fact[2].tree
        if isinstance(e, ast.Constant) and isinstance(r, ast.Constant) \
                and type(e.value) is int and type(r.value) is int and 0 <= r.value < e.value:
            q = sympy.Symbol(f"_{name}_q", integer=True, positive=True) if r.value == 0 \
                else sympy.Symbol(f"_{name}_q", integer=True, nonnegative=True)
            out[by_name[name]] = e.value * q + r.value
    return out


def _floors_at_least(gap: Any) -> Any:
    """A lower bound on `gap` (a sum): each floor(N/q) of an integer N and a whole q > 0 with
    a positive coefficient at its least, (N - q + 1)/q; with a negative one, at N/q."""
    if not isinstance(gap, sympy.Add):
        return gap
    terms, bounded = [], False
    for term in gap.args:
        coeff, rest = term.as_coeff_Mul()
        if isinstance(rest, sympy.floor) and coeff.is_Rational \
                and not rest.args[0].has(sympy.Piecewise):  # no integer form (ECA's kernel)
            num, den = rest.args[0].as_numer_denom()
            if den.is_Integer and den > 0 and algebra.is_integer_form(num):
                terms.append(coeff * (num - den + 1) / den if coeff > 0 else coeff * num / den)
                bounded = True
                continue
        terms.append(term)
    return sympy.expand(sympy.Add(*terms)) if bounded else gap


def negated(stmt: str) -> str:
    """`H < 3` for the `requires` line `H >= 3` (and `k > 7` for `k <= 7`)."""
    return stmt.replace(" >= ", " < ", 1) if " >= " in stmt else stmt.replace(" <= ", " > ", 1)
