"""The spec's expression language: a whitelisted subset of Python expressions.

`channel // reduction`, `(kernel_size - 1) // 2`, `max(8, inp // reduction)`,
`3 if kernel_size == 7 else 1`, `kernel_set[-1]`, `d_k ** 0.5`.

Text is parsed with `ast` and every node is checked against a whitelist; nothing
is ever evaluated by Python. One parsed `Expr` serves three readers:
`python()` (source for generated code), `sympy()` (shape reasoning) and
`value()` (a small interpreter for concrete values such as conditions).
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from .errors import BAD_VALUE, EXPR_SYNTAX, OVER_BUDGET, Loc, error
from .expr_check import MAX_INT, MAX_NAMED_POW, check_tree, free_names, is_range
from .expr_source import CONSTANTS, FORMULA_FUNCTIONS, to_source
from .memo import frozen_value, remember, shareable

MAX_TEXT = 400  # characters in one expression


_BINOPS = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
MAX_COMPREHENSION = 256  # items of one list comprehension (a let's: `[c * 2 ** i for i ...]`)


class Expr:
    """A parsed, validated expression. Immutable (its tree is shared between Exprs of the
    same text and never modified); hashable by its text."""

    __slots__ = ("loc", "names", "text", "tree")

    def __init__(self, text: str, tree: ast.expr, loc: Loc,
                 names: frozenset[str] | None = None) -> None:
        self.text, self.tree, self.loc = text, tree, loc
        self.names = names if names is not None else free_names(tree)

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def constant(self) -> object:
        """The literal value if the expression is a plain literal, else raise ValueError."""
        node = self.tree
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)):
            return -node.operand.value
        if isinstance(node, ast.Constant):
            return node.value
        raise ValueError(self.text)

    def is_constant(self) -> bool:
        try:
            _ = self.constant
        except ValueError:
            return False
        return True

    # -- readers -----------------------------------------------------------------
    def python(self, rename: Callable[[str], str] = str) -> str:
        """Python source with each free name passed through `rename` (called once per name)."""
        mapping = tuple(sorted((n, rename(n)) for n in self.names))
        key = (self.text, mapping)
        if key not in _SOURCE:
            fresh = ast.parse(self.text, mode="eval").body  # a copy to rewrite: the tree is shared
            remember(_SOURCE, key, to_source(fresh, dict(mapping).__getitem__))
        return _SOURCE[key]

    def value(self, env: Mapping[str, object]) -> Any:
        """Evaluate with concrete values for the free names. The result is a number, bool,
        str, None or tuple, as the expression and `env` make it (typed Any: the caller
        checks for the kind it needs). Memoized as sympy() is, where the result is made of
        Python's own immutable types (never a list or a located value taken from `env`)."""
        key = _env_key(self, env)
        if key is not None and key in _VALUES:
            return _VALUES[key]
        out = _Interp(env, self).run(self.tree)
        if key is not None and shareable(out):
            remember(_VALUES, key, out)
        return out

    def sympy(self, env: Mapping[str, object]) -> Any:
        """Build a sympy expression; `env` maps names to sympy values or Python lists.

        Memoized on the text and the values of its free names: the checker evaluates the
        same expressions in every configuration of every spec that uses them.
        """
        key = _env_key(self, env)
        if key is not None and key in _SYMPY:
            return _SYMPY[key]
        import sympy

        from .algebra import TooLarge, check_size

        try:
            out = _Sym(env, self).run(self.tree)
            if isinstance(out, sympy.Basic):  # lets and bound dims make it larger than its text
                substituted = any(not getattr(env.get(n), "is_Symbol", False) for n in self.names)
                check_size(out, f"'{self.text}'" + (" with the values of its names"
                                                    if substituted else ""))
        # a str param in arithmetic (TypeError), max() of a NaN default (ValueError)
        except (sympy.SympifyError, TypeError, ValueError) as exc:
            raise error(self.loc, BAD_VALUE, f"cannot evaluate '{self.text}' symbolically: "
                        f"{type(exc).__name__}") from None
        except TooLarge as exc:
            raise error(self.loc, OVER_BUDGET, str(exc)) from None
        if key is not None and not isinstance(out, (list, dict)):
            remember(_SYMPY, key, out)
        return out


# per-process memos (memo.py), each cleared when full
_PARSED: dict[str, tuple[ast.expr, frozenset[str]]] = {}  # text -> (tree, free names), valid only
_SOURCE: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}  # (text, renames) -> source
_READS: dict[str, tuple[str, ...]] = {}  # text -> every name its tree reads, sorted
# (text, typed values of the names it reads: _env_key) -> sympy value, or concrete value
_SYMPY: dict[tuple[str, tuple[tuple[str, object], ...]], object] = {}
_VALUES: dict[tuple[str, tuple[tuple[str, object], ...]], object] = {}
_MISSING = object()
_MATH = {name: getattr(math, name) for name in FORMULA_FUNCTIONS}  # a formula's, on numbers


def comprehension_reads(expr: Expr) -> frozenset[str]:
    """The names what a list comprehension of `expr` runs over reads (`order` in `[... for i
    in range(order)]`): the checker takes such int params at their defaults (loops.bounds)."""
    if "for" not in expr.text:
        return frozenset()
    return frozenset(n for node in ast.walk(expr.tree) if isinstance(node, ast.ListComp)
                     for n in free_names(node.generators[0].iter))


def comprehension_vars(expr: Expr) -> list[tuple[str, Loc]]:
    """Each list comprehension's variable in `expr`, with where it is written."""
    if "for" not in expr.text:
        return []
    return [(n.generators[0].target.id, expr.loc.shifted(n.generators[0].target.col_offset))
            for n in ast.walk(expr.tree) if isinstance(n, ast.ListComp)
            and isinstance(n.generators[0].target, ast.Name)]


def _env_key(expr: Expr,
             env: Mapping[str, object]) -> tuple[str, tuple[tuple[str, object], ...]] | None:
    """What value() and sympy() of `expr` depend on: its text and the typed value in `env`
    of every name its tree reads (a function's name too: a param may be named `log2`)."""
    reads = _READS.get(expr.text)
    if reads is None:
        reads = tuple(sorted({n.id for n in ast.walk(expr.tree) if isinstance(n, ast.Name)}))
        remember(_READS, expr.text, reads)
    try:
        return expr.text, tuple([(n, frozen_value(env.get(n, _MISSING))) for n in reads])
    except TypeError:
        return None


def parse(raw: object, loc: Loc, *, iterable: bool = False, formula: bool = False,
          comprehension: bool = False) -> Expr:
    """Parse a YAML scalar (str, int, float, bool, None) into an Expr. Raises SpecError.

    `iterable`: what `each:` repeats over, which may also be `range(stop)`, `range(start,
    stop)` or `range(start, stop, step)` over expressions (nowhere else: a range is never a
    value of shapes or arguments). `formula`: a buffer's `init: formula`, which may also
    call FORMULA_FUNCTIONS (sin, cos, exp, log, sqrt). `comprehension`: a let's value,
    which may hold list comprehensions (`[dim // 2 ** i for i in range(order)]`)."""
    if raw is None or isinstance(raw, bool) or type(raw).__name__ in ("LBool", "LNone"):
        text = repr(
            None if type(raw).__name__ == "LNone" else bool(raw) if raw is not None else None
        )
    elif isinstance(raw, (int, float)):
        text = repr(int(raw)) if isinstance(raw, int) else repr(float(raw))
    elif isinstance(raw, str):
        text = str(raw).strip()
    else:
        raise error(loc, BAD_VALUE, f"expected an expression, got {type(raw).__name__}")
    if not text:
        raise error(loc, EXPR_SYNTAX, "empty expression")
    if len(text) > MAX_TEXT:
        raise error(loc, EXPR_SYNTAX, f"expression longer than {MAX_TEXT} characters")
    if "\n" in text or "\r" in text:
        raise error(loc, EXPR_SYNTAX, "expressions must fit on one line")
    special = iterable or formula or comprehension
    if text in _PARSED and not special:  # parsed and validated alike
        tree, names = _PARSED[text]
        return Expr(text, tree, loc, names)
    try:
        with (
            warnings.catch_warnings()
        ):  # e.g. "invalid decimal literal" for `1C`: ours is the error
            warnings.simplefilter("ignore")
            parsed = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) - 1
        raise error(
            loc.shifted(col), EXPR_SYNTAX, f"invalid expression '{text}': {exc.msg}"
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise error(loc, EXPR_SYNTAX, f"invalid expression '{text}'") from None
    check_tree(parsed, text, loc, 0, iterable, FORMULA_FUNCTIONS if formula else (), comprehension)
    if special:  # not memoized: the same text elsewhere may not use them
        return Expr(text, parsed.body, loc, free_names(parsed.body) - set(FORMULA_FUNCTIONS)
                    if formula else free_names(parsed.body))
    body, names = parsed.body, free_names(parsed.body)
    remember(_PARSED, text, (body, names))
    return Expr(text, body, loc, names)


# -- concrete interpreter -------------------------------------------------------------
def _seq(value: Any) -> Any:
    """A list param's value as a list literal's (a tuple): `gl != [1, 2]` compares items."""
    return tuple(value) if isinstance(value, list) else value


class _Interp:
    def __init__(self, env: Mapping[str, object], expr: Expr) -> None:
        self.env, self.expr = env, expr
        self.made = 0  # items of its comprehensions, nested ones' included

    def fail(self, node: ast.AST, msg: str) -> NoReturn:
        raise error(self.expr.loc.shifted(getattr(node, "col_offset", 0)), BAD_VALUE,
                    f"cannot evaluate '{self.expr.text}': {msg}")

    def run(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id not in self.env:
            self.fail(node, f"unknown name '{node.id}'")
        return self.env[node.id]

    def _Tuple(self, node: ast.Tuple | ast.List) -> tuple[Any, ...]:
        return tuple(self.run(e) for e in node.elts)

    _List = _Tuple

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.run(node.operand)
        if isinstance(node.op, ast.Not):
            return not v
        if not isinstance(v, (int, float)):
            self.fail(node, f"unary operator on {type(v).__name__}")
        return -v if isinstance(node.op, ast.USub) else +v

    def _BinOp(self, node: ast.BinOp) -> Any:
        a, b = self.run(node.left), self.run(node.right)
        sym, fn = _BINOPS[type(node.op)]
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            self.fail(
                node, f"'{sym}' needs numbers, got {type(a).__name__} and {type(b).__name__}"
            )
        if sym in ("/", "//", "%") and b == 0:
            self.fail(node, "division by zero")
        if sym == "**" and abs(b) > MAX_NAMED_POW:  # a computed exponent (expr_check)
            self.fail(node, f"the exponent {b} is outside -{MAX_NAMED_POW} to {MAX_NAMED_POW}")
        try:
            out = fn(a, b)
        except (OverflowError, ValueError, ZeroDivisionError) as exc:
            self.fail(node, str(exc))
        if isinstance(out, complex):
            self.fail(node, "complex result")
        if isinstance(out, int) and abs(out) > MAX_INT**2:
            self.fail(node, "integer result too large")
        return out

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            v = True
            for e in node.values:
                v = self.run(e)
                if not v:
                    return v
            return v
        v = False
        for e in node.values:
            v = self.run(e)
            if v:
                return v
        return v

    def _Compare(self, node: ast.Compare) -> Any:
        left = _seq(self.run(node.left))
        for op, comp in zip(node.ops, node.comparators, strict=False):
            right = _seq(self.run(comp))
            try:
                ok = _CMPOPS[type(op)](left, right)
            except TypeError as exc:
                self.fail(node, str(exc))
            if not ok:
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.run(node.body) if self.run(node.test) else self.run(node.orelse)

    def _ListComp(self, node: ast.ListComp) -> tuple[Any, ...]:
        """`[elt for name in iter if cond]` (a let's: expr_check), as Python makes it."""
        gen = node.generators[0]
        assert isinstance(gen.target, ast.Name)  # expr_check
        outer, out = self.env, []
        try:
            for item in self._items(gen.iter):
                self.made += 1
                if self.made > MAX_COMPREHENSION * 16:  # nested: 256 ** depth otherwise
                    self.fail(node, f"comprehensions of more than {MAX_COMPREHENSION * 16} "
                              "items in all")
                self.env = {**outer, gen.target.id: item}
                if all(self._decided(c) for c in gen.ifs):
                    out.append(self.run(node.elt))
        finally:
            self.env = outer
        return tuple(out)

    def _items(self, node: ast.expr) -> tuple[Any, ...]:
        """What a comprehension runs over: `range(...)` of whole numbers, or a list."""
        if is_range(node):
            args = [self.run(a) for a in node.args]  # type: ignore[attr-defined]
            args = [int(a) if getattr(a, "is_Integer", False) else a for a in args]
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
                self.fail(node, "range() needs whole numbers, here "
                          + ", ".join(str(a) for a in args)
                          + " (an int param is any size: a let's comprehension is checked "
                          "at the param's default)")
            if len(args) == 3 and args[2] == 0:
                self.fail(node, "range() step must not be zero")
            items: tuple | list | range = range(*args)
        else:
            items = self.run(node)
            if not isinstance(items, (list, tuple)):
                self.fail(node, f"a comprehension runs over a list or range(...), got {items!r}")
        if len(items) > MAX_COMPREHENSION:
            self.fail(node, f"a comprehension over {len(items)} items (at most "
                      f"{MAX_COMPREHENSION})")
        return tuple(items)

    def _decided(self, node: ast.expr) -> bool:
        """A comprehension's `if`, true or false here."""
        return bool(self.run(node))

    def _Subscript(self, node: ast.Subscript) -> Any:
        seq, idx = self.run(node.value), self.run(node.slice)
        idx = int(idx) if getattr(idx, "is_Integer", False) else idx  # a sympy Integer
        if not isinstance(seq, (list, tuple)):
            self.fail(node, f"cannot index a {type(seq).__name__}")
        if getattr(idx, "free_symbols", None):  # a symbol (sympy())
            self.fail(node, f"the index '{ast.unparse(node.slice)}' has no number value here "
                      "(an int param stands for every size): give the param `choices:` (each "
                      "value is then a configuration), or index by a loop variable")
        if not isinstance(idx, int) or isinstance(idx, bool):
            self.fail(node, "index must be an integer")
        if not -len(seq) <= idx < len(seq):
            self.fail(node, f"index {idx} out of range for a list of {len(seq)}")
        return seq[idx]

    def _Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # check_tree allows calls of named functions only
        name = node.func.id
        args = [self.run(a) for a in node.args]
        if name == "range":  # an `each:` iterable (parse(..., iterable=True))
            if not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
                self.fail(node, "range() needs whole numbers")
            if len(args) == 3 and args[2] == 0:
                self.fail(node, "range() step must not be zero")
            return tuple(range(*args))
        if name == "len":
            if not isinstance(args[0], (list, tuple)):
                self.fail(node, "len() needs a list")
            return len(args[0])
        if name in _MATH:  # a formula's (init: formula): a number's sine, ...
            try:
                return _MATH[name](float(args[0]))
            except (TypeError, ValueError, OverflowError):
                self.fail(node, f"{name}() of {args[0]!r}")
        if name == "sum":  # of a list's numbers (channels of maps concatenated)
            if not isinstance(args[0], (list, tuple)) or not all(
                    isinstance(a, (int, float)) and not isinstance(a, bool) for a in args[0]):
                self.fail(node, "sum() needs a list of numbers")
            return sum(args[0])
        if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            self.fail(node, f"{name}() needs numbers")
        if name == "max":
            return max(args)
        if name == "min":
            return min(args)
        if name == "abs":
            return abs(args[0])
        if name == "int":
            if not math.isfinite(args[0]):
                self.fail(node, "int() of a non-finite number")
            return int(args[0])
        if args[0] <= 0:
            self.fail(node, "log2() of a non-positive number")
        return math.log2(args[0])


# -- sympy ------------------------------------------------------------------------
class _Sym(_Interp):
    """Same walk as the interpreter, building sympy values where names are symbolic."""

    def __init__(self, env: Mapping[str, object], expr: Expr) -> None:
        super().__init__(env, expr)
        import sympy

        from .algebra import floor, refuse_text, sympify

        self.sp, self.floor = sympy, floor
        self.sympify, self.refuse_text = sympify, refuse_text  # never sympy's text parser

    @staticmethod
    def _concrete(v: object) -> bool:
        return isinstance(v, (int, float, bool, str, type(None), list, tuple))

    def _Name(self, node: ast.Name) -> Any:
        if node.id == "inf":
            return self.sp.oo
        return super()._Name(node)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.run(node.operand)
        if self._concrete(v):
            return super()._UnaryOp(node)
        if isinstance(node.op, ast.Not):
            return self.sp.Not(v)
        return -v if isinstance(node.op, ast.USub) else v

    def _BinOp(self, node: ast.BinOp) -> Any:
        a, b = self.run(node.left), self.run(node.right)
        if self._concrete(a) and self._concrete(b):
            return super()._BinOp(node)
        sp = self.sp
        if isinstance(a, (list, tuple, str)) or isinstance(b, (list, tuple, str)):
            self.fail(node, "arithmetic on a list or string")
        a, b = self.sympify(a), self.sympify(b)
        op = type(node.op)
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and b.is_zero:
            self.fail(node, "division by zero")
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        if op is ast.Div:
            return a / b
        if op is ast.FloorDiv:
            return self.floor(a / b)
        if op is ast.Mod:
            return sp.Mod(a, b)
        if not b.is_Number:  # a named exponent must have a value (a loop variable: 2 ** i)
            self.fail(node, f"the exponent '{ast.unparse(node.right)}' of '**' has no number "
                      "value here (an int param is any size): use a literal or a loop variable")
        if abs(b) > MAX_NAMED_POW:
            self.fail(node, f"the exponent {b} is outside -{MAX_NAMED_POW} to {MAX_NAMED_POW}")
        return a**b

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        vals = [self.run(e) for e in node.values]
        if all(self._concrete(v) for v in vals):
            return super()._BoolOp(node)
        self.refuse_text(vals)
        return (self.sp.And if isinstance(node.op, ast.And) else self.sp.Or)(*vals)

    def _Compare(self, node: ast.Compare) -> Any:
        sp = self.sp
        left = _seq(self.run(node.left))
        terms = []
        for op, comp in zip(node.ops, node.comparators, strict=False):
            right = _seq(self.run(comp))
            if self._concrete(left) and self._concrete(right):
                try:
                    terms.append(bool(_CMPOPS[type(op)](left, right)))
                except TypeError as exc:
                    self.fail(node, str(exc))
            elif isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (list, tuple)):
                    self.fail(node, "'in' needs a list or tuple")
                self.refuse_text([left, right])
                cond = sp.Or(*[sp.Eq(left, r) for r in right])
                terms.append(cond if isinstance(op, ast.In) else sp.Not(cond))
            elif isinstance(op, (ast.Is, ast.IsNot)):
                terms.append(isinstance(op, ast.IsNot))  # a symbol is never None
            else:
                rel = {ast.Eq: sp.Eq, ast.NotEq: sp.Ne, ast.Lt: sp.Lt, ast.LtE: sp.Le,
                       ast.Gt: sp.Gt, ast.GtE: sp.Ge}[type(op)]
                self.refuse_text([left, right])
                terms.append(rel(left, right))
            left = right
        return sp.And(*terms) if len(terms) > 1 else terms[0]

    def _IfExp(self, node: ast.IfExp) -> Any:
        test = self.run(node.test)
        if self._concrete(test):  # a known value (a str or list param's): Python truthiness
            test = bool(test)
        elif not isinstance(test, self.sp.logic.boolalg.Boolean) or test.is_Symbol:
            # Python truthiness of a number: `t if t % 2 else ...`, `c if c else d` (a sympy
            # Symbol is a Boolean too, but ours stand for numbers: bools are never symbols)
            test = self.sp.Ne(test, 0)
        if isinstance(test, bool) or test in (self.sp.true, self.sp.false):
            return self.run(node.body) if bool(test) else self.run(node.orelse)
        body, orelse = self.run(node.body), self.run(node.orelse)
        self.refuse_text([body, orelse])
        return self.sp.Piecewise((body, test), (orelse, True))

    def _decided(self, node: ast.expr) -> bool:
        test = self.run(node)
        if self._concrete(test) or test in (self.sp.true, self.sp.false):
            return bool(test)
        self.fail(node, f"the condition '{ast.unparse(node)}' of a comprehension is not decided "
                  "here (it depends on a dim or an int param of any size)")

    def _Call(self, node: ast.Call) -> Any:
        args = [self.run(a) for a in node.args]
        items = args[0] if args and isinstance(args[0], (list, tuple)) else ()
        if isinstance(node.func, ast.Name) and node.func.id == "sum" and not all(
                isinstance(a, (int, float)) for a in items):  # a list of dims
            if not all(isinstance(a, (int, float, self.sp.Expr)) and not isinstance(a, bool)
                       for a in items):  # nested lists, strings, None, truth values
                self.fail(node, "sum() needs a list of numbers")
            return self.sp.Add(*items)
        if all(self._concrete(a) for a in args):
            return super()._Call(node)
        assert isinstance(node.func, ast.Name)  # check_tree allows calls of named functions only
        sp, name = self.sp, node.func.id
        self.refuse_text(args)
        if name == "max":
            return sp.Max(*args)
        if name == "min":
            return sp.Min(*args)
        if name == "abs":
            return sp.Abs(args[0])
        if name == "int":  # truncation; our symbols are positive, so floor
            return self.floor(args[0])
        if name == "log2":
            return sp.log(args[0], 2)
        self.fail(node, f"{name}() needs a list")
