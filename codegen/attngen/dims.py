"""Dims and shapes: printing them, making dim symbols, reading numbers out of sympy.

A dim is an int or a sympy integer expression (`C // 2`, `H*W`); a shape is a tuple of
dims, or a list of shapes for a value that is a list of tensors. Every printer (generated
code comments, diagrams, docs, `attngen check`, diff, verify) writes shapes with
fmt_shape, so they all read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sympy
from sympy.printing.str import StrPrinter

from . import algebra
from .expr import Expr
from .ops.ctx import Dim, Shape


class _DimPrinter(StrPrinter):
    def _print_floor(self, expr: Any) -> str:
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if den == 1:  # `int(0.5*c)`: the spec's truncation, a floor of positive values
            return f"int({self._print(num)})"
        return f"({self.parenthesize(num, 40)} // {self.parenthesize(den, 50)})"

    def _print_Mod(self, expr: Any) -> str:
        a, b = expr.args
        return f"{self.parenthesize(a, 50)} % {self.parenthesize(b, 50)}"

    def _print_Max(self, expr: Any) -> str:
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr: Any) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Piecewise(self, expr: Any) -> str:  # as a spec writes it: `N if r == 1 else M`
        *cases, (last, _) = expr.args
        parts = [f"{self._print(e)} if {self._print(c)} else " for e, c in cases]
        return "(" + "".join(parts) + self._print(last) + ")"

    def _print_Relational(self, expr: Any) -> str:  # `r == 1`, not Eq(r, 1)
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"

    def _print_And(self, expr: Any) -> str:
        return " and ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr: Any) -> str:
        return " or ".join(f"({self._print(a)})" for a in expr.args)


_PRINTER = _DimPrinter({"order": "none"})


_FORMATTED: dict[Any, str] = {}  # (dim, folds) -> its text
# (value, its let's name as a symbol) of the spec being shown, biggest value first: a dim is
# printed in those names (`window**2` for `(block_size + 2*halo_size)**2`); see shown_lets
Folds = tuple[tuple[Any, Any], ...]
_FOLDS: ContextVar[Folds | Callable[[], Folds]] = ContextVar("folds", default=())


@contextmanager
def lets_folded(folds: Folds | Callable[[], Folds]) -> Iterator[None]:
    """Within it, fmt_dim writes each value of `folds` as its name; `folds` may be a
    function, called where a dim is first printed (a check prints few: its messages)."""
    token = _FOLDS.set(folds)
    try:
        yield
    finally:
        _FOLDS.reset(token)


def _folds() -> Folds:
    folds = _FOLDS.get()
    if callable(folds):
        folds = folds()
        _FOLDS.set(folds)  # within lets_folded, which resets it
    return folds


def folded_names() -> set[str]:
    """The lets fmt_dim writes by name here (inside lets_folded; none outside it)."""
    return {str(name) for _, name in _folds()}


def fmt_dim(d: Dim | Expr) -> str:
    """A dim as the spec would write it: `C // 2`, `H*W`, an expression's own text."""
    if isinstance(d, Expr):
        return d.text
    if isinstance(d, (int, float)):
        return repr(d)
    cached = isinstance(d, sympy.Basic)  # printing is a large part of emitting; dims recur
    folds = _folds() if cached and not d.is_Atom else ()
    key = (d, folds)
    if cached and key in _FORMATTED:
        return _FORMATTED[key]
    shown = d
    for value, name in folds:  # algebraic: 2*dim_head*heads is 2*inner_dim
        if not value.free_symbols <= shown.free_symbols:
            continue  # (what subs would find: a value is written only where its dims are)
        folded = shown.subs(value, name)
        if not _new_roots(folded, shown):  # not kernel_att as sqrt(window)
            shown = folded
    text = _PRINTER.doprint(shown)
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    if cached:
        _FORMATTED[key] = text
    return text


def _new_roots(folded: Any, before: Any) -> bool:
    """Whether a fold wrote a power that is not whole (`sqrt(window)` for `kernel_att`,
    where `window` is kernel_att ** 2) that the dim did not have."""
    def roots(e: Any) -> set:
        return {p for p in e.atoms(sympy.Pow) if not p.exp.is_Integer}

    return bool(roots(folded) - roots(before))


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def fmt_items(texts: list[str]) -> str:
    """A list value's items as written: `[(B, C)] * 3` when all alike, else each."""
    if texts and all(t == texts[0] for t in texts):
        return f"[{texts[0]}] * {len(texts)}"
    return "[" + ", ".join(texts) + "]"


def fmt_shape(shape: Shape | list[Shape]) -> str:
    """`(B, C, H, W)`; a list of shapes as `[(B, C)] * 3` when all alike."""
    if isinstance(shape, list):
        return fmt_items([fmt_shape(s) for s in shape])
    return "(" + ", ".join(fmt_dim(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def dim_symbol(name: str, positive: bool = True) -> Any:
    """The sympy symbol of a free dim or an int param: an integer, positive unless told."""
    return sympy.Symbol(name, integer=True, positive=positive) if positive \
        else sympy.Symbol(name, integer=True)


def name_of(s: Any) -> str:
    """str(s) for a symbol, without sympy's printer (microseconds a call, in loops over
    samples); anything else printed."""
    return s.name if type(s) is sympy.Symbol else str(s)


def to_number(v: Dim) -> int | float | None:
    """A sympy value as a Python number, or None if it is not concrete."""
    v = algebra.sympify(v)
    if v.is_Integer:
        return int(v)
    if v.is_Number:
        return float(v)
    return None


def is_dim(d: object) -> bool:
    """An int (not a bool) or a sympy expression that may be an integer."""
    if isinstance(d, bool):
        return False
    if isinstance(d, int):
        return True
    return isinstance(d, sympy.Expr) and not d.is_Boolean and (
        algebra.is_integer_form(d) or d.is_integer is not False)
