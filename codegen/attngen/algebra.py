"""Integer shape algebra on sympy values, shared by the expression reader and the checker.

sympy answers "is this an integer?" and "what is floor(x)?" through its assumptions
system, which for a symbolic quotient searches for bounds (is C - 1 zero? is 0 <= x < 1
provable?) at a cost of milliseconds a call; that search was a third of a cold library
build and for positive dims almost never succeeds. The helpers here decide from the
form of the expression instead, and agree with sympy wherever sympy's answer does not
come from such a search. Where it would have (floor(1/(k + 1)) is 0), the floor stays
and the checker still proves the annotation equal by sampling. Values outside the forms
below go to sympy unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy


def sympify(value: object) -> Any:
    """sympy.sympify that never reads text. sympy parses a str with parse_expr, which runs
    it through eval(), also inside a tuple and also with strict=True; a spec's strings (a
    str param's value) must never run, so a str anywhere in `value` is a TypeError here,
    which the checker reports as a located error."""
    if isinstance(value, sympy.Basic):  # most values: already sympy, nothing to convert
        return value
    refuse_text(value)
    return sympy.sympify(value)


def refuse_text(value: object) -> None:
    """TypeError if `value` is a str or holds one (in lists, tuples, sets or dicts): call it
    before handing values to sympy's functions (Max, Min, Abs, floor, Mod, log, Tuple
    sympify their arguments as sympify does, strings included)."""
    if isinstance(value, str):
        raise TypeError(f"the string {value!r} where a number or dim is expected")
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            refuse_text(item)
    elif isinstance(value, dict):
        for item in value.items():
            refuse_text(item)


_INSIDE = (sympy.Add, sympy.Mul, sympy.floor, sympy.Mod, sympy.Max, sympy.Min)
_ROUNDED = (sympy.floor, sympy.ceiling)


@lru_cache(maxsize=8192)  # asked of the same dims at every node of every configuration
def is_integer_form(x: Any) -> bool:
    """True when x is an integer by its form: integer symbols and numbers under +, *,
    powers with a non-negative integer exponent, floor, Mod, max and min."""
    if x.is_Integer:
        return True
    if x.is_Symbol:
        return x.is_integer is True
    if isinstance(x, (sympy.Add, sympy.Mul, sympy.Max, sympy.Min, sympy.Mod)):
        return all(is_integer_form(a) for a in x.args)
    if x.is_Pow:
        return x.exp.is_Integer and x.exp >= 0 and is_integer_form(x.base)
    if isinstance(x, _ROUNDED):
        return _integer_terms(x.args[0])  # the floor of a real value
    return False


def floor(x: Any) -> Any:
    """floor(x) as sympy.floor(x) evaluates it, for the forms above (see the module doc)."""
    x = sympify(x)
    if x.is_Rational:
        return x.floor()
    if isinstance(x, _ROUNDED) or isinstance(-x, _ROUNDED) or is_integer_form(x):
        return x  # e.g. a conv with stride 1, or floor(floor(x))
    return _floor(x)


@lru_cache(maxsize=4096)
def _floor(x: Any) -> Any:
    if not _integer_terms(x):
        return sympy.floor(x)
    # sympy's own split (RoundFunction.eval): integer terms leave the floor, a lone
    # rational part is floored, a symbolic remainder stays inside the floor
    ipart = npart = spart = sympy.S.Zero
    for term in sympy.Add.make_args(x):
        if is_integer_form(term):
            ipart += term
        elif term.is_Number:
            npart += term
        else:
            spart += term
    if not spart:
        return ipart + npart.floor()
    spart += npart
    if isinstance(spart, _ROUNDED):
        return ipart + spart
    return ipart + sympy.floor(spart, evaluate=False)


@lru_cache(maxsize=4096)
def _integer_terms(x: Any) -> bool:
    """Only integer symbols, rationals and floats (`int(c * 0.5)`), + * integer powers,
    floor, Mod, max, min: a real value, so none of sympy's complex-number cases apply."""
    for node in sympy.preorder_traversal(x):
        if node.is_Symbol:
            if node.is_integer is not True:
                return False
        elif node.is_Number:
            if not (node.is_Rational or node.is_Float):
                return False
        elif node.is_Pow:
            if not node.exp.is_Integer:
                return False
        elif not isinstance(node, _INSIDE):
            return False
    return True


def tidy(e: Any) -> Any:
    """e in a form as short as sympy.simplify gives our dims, without sympy.simplify: the
    integer part of each floor taken out (floor((L - r)/r) + 1 is floor(L/r)) and a
    quotient by a sum cancelled ((H*W + H)/(W + 1) is H), each kept only where it shortens
    e. On every dim the library and the test suite met, sympy.simplify (milliseconds a
    call; its first imports sympy.physics, 0.2 s of a cold build) changed nothing else."""
    e = sympify(e)
    if e.is_Atom:
        return e
    return _tidy(e)


@lru_cache(maxsize=4096)
def _tidy(e: Any) -> Any:
    out = _floors_out(e) if e.has(sympy.floor) else e
    den = sympy.fraction(out)[1]
    if not den.is_Atom and den.has(sympy.Add):
        check_size(out, "a dim it computes")  # cancel multiplies out (the budget below)
        out = sympy.cancel(out)
    return out if sympy.count_ops(out) < sympy.count_ops(e) else e


def _floors_out(e: Any) -> Any:
    """e with floor(n + x) written n + floor(x) for the integer terms n of the expanded
    argument, innermost floors first."""
    if e.is_Atom or not e.has(sympy.floor):
        return e
    args = tuple(_floors_out(a) for a in e.args)
    if args != e.args:
        e = e.func(*args)
    if not isinstance(e, sympy.floor) or not _integer_terms(e.args[0]):
        return e
    whole: list[Any] = []
    rest: list[Any] = []
    for term in sympy.Add.make_args(sympy.expand(e.args[0])):
        (whole if is_integer_form(term) else rest).append(term)
    if not whole:
        return e
    inside = sympy.together(sympy.Add(*rest))
    return sympy.Add(*whole) + (inside.floor() if inside.is_Rational
                                else sympy.floor(inside, evaluate=False))


def shift_floors(e: Any) -> Any:
    """e with each floor(x + c), c a rational outside [0, 1), written floor(x + c - n) + n
    (n = floor(c), an integer): the same value, one form for the constants that differ by
    an integer, so that floor(H/3 + 1/3) and floor(H/3 - 2/3) + 1 cancel when expanded."""
    shifted = {}
    for f in e.atoms(sympy.floor):
        c, rest = f.args[0].as_coeff_Add()
        if rest != 0 and c.is_Rational and not 0 <= c < 1:
            n = c.floor()
            shifted[f] = sympy.floor(rest + (c - n), evaluate=False) + n
    return e.xreplace(shifted) if shifted else e


# The expression budget. Proving two dims equal expands them (sympy.expand multiplies out
# every product and power), and sampling evaluates them: a few characters can ask for
# billions of terms, ((B + C + H + W)**8 + 1)**8, or for numbers of billions of digits,
# ((B**8)**8)**8 ... = B**(8**10). Every expression, whatever built it (lets, bound dims,
# op rules), is measured from its form before that work and refused beyond these.
MAX_TERMS = 1_000  # terms once expanded
MAX_DEGREE = 64  # polynomial degree (a free dim's exponent, summed over a product)


class TooLarge(Exception):
    """A value over a budget of the whole build; the caller reports it where it arose."""


def size(x: Any, limit: int = MAX_TERMS) -> tuple[int, float]:
    """(terms, degree): an upper bound on the number of terms sympy.expand(x) gives (at
    most `limit` + 1: counting stops there) and x's degree in its symbols, from the form
    of x without expanding it, each shared sub-expression measured once."""
    memo: dict[object, tuple[int, float]] = {}

    def measure(e: Any) -> tuple[int, float]:
        if e in memo:
            return memo[e]
        found: tuple[int, float]
        if e.is_Atom:
            found = (1, 1.0 if e.is_Symbol else 0.0)
        elif e.is_Add or e.is_Mul:
            parts = [measure(a) for a in e.args]
            if e.is_Add:
                found = (sum(t for t, _ in parts), max(d for _, d in parts))  # degree: max
            else:
                terms = 1
                for t, _ in parts:
                    terms = min(terms * t, limit + 1)
                found = (terms, float(sum(d for _, d in parts)))
        elif e.is_Pow and e.exp.is_Number:
            t, d = measure(e.base)
            k = abs(e.exp)
            # expanded, (t terms)**k has as many terms as there are monomials of degree k
            # in t variables: (t + k - 1) choose k (k whole and positive; else the base alone)
            terms = _choose(t + int(k) - 1, int(k), limit + 1) if e.exp.is_Integer \
                and e.exp > 0 else t
            found = (terms, d * float(k))
        else:  # floor, Mod, Max, Piecewise, log, a symbolic power: expanded inside
            parts = [measure(a) for a in e.args]
            found = (max(1, sum(t for t, _ in parts)), max((d for _, d in parts), default=0.0))
        memo[e] = found = (min(found[0], limit + 1), found[1])
        return found

    return measure(sympify(x))


def _choose(n: int, k: int, cap: int) -> int:
    """n choose k, or `cap` if it is at least that (k may be large: x**64 has one term)."""
    k = min(k, n - k)
    out = 1
    for i in range(k):
        out = out * (n - i) // (i + 1)
        if out >= cap:
            return cap
    return out


def check_size(x: Any, what: str) -> None:
    """TooLarge if x is over the expression budget (MAX_TERMS, MAX_DEGREE)."""
    terms, degree = size(x)
    if terms > MAX_TERMS:
        raise TooLarge(f"{what} is too large: expanded, it would have more than "
                       f"{MAX_TERMS:,} terms (the build budget for expression size)")
    if degree > MAX_DEGREE:
        raise TooLarge(f"{what} is too large: its degree is {degree:g}, more than "
                       f"{MAX_DEGREE} (the build budget for expression size)")
