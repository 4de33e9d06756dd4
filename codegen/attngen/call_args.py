"""A call's arguments as the checker reads them, errors located at the argument: an op's
(defaults filled in, each of its declared type and within its bounds), a `use:`
sub-spec's (each `choices` param one of them, every required one given) and an
initialiser's options written as expressions."""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import sympy

from . import ops
from .configs import config_text
from .errors import BAD_ARGUMENTS, BAD_VALUE, SpecError, error
from .expr import Expr
from .expr_source import FORMULA_FUNCTIONS
from .fields import entries_text
from .model import FunctionOp, LayerOp, Node, SubSpec, TensorDecl
from .ops.ctx import ShapeFail
from .parse_tensors import option_fault
from .shape_ctx import ProverCtx


def op_args(op: ops.Op, given: dict[str, Expr], sym: Callable[[Expr], Any]) -> dict:
    """The op's arguments, each given one through `sym` (a `str` argument as its text);
    defaults for the rest."""
    args: dict[str, Any] = {}
    for a in op.args:
        if a.name in given:
            expr = given[a.name]
            args[a.name] = expr.constant if a.kind == "str" else sym(expr)
            if a.kind == "shape" and any(isinstance(d, (list, tuple, sympy.Tuple))
                                         for d in args[a.name]):
                raise ShapeFail(f"'{a.name}' must be a list of dims, each a name, number "
                                "or expression (not a list)", BAD_ARGUMENTS)
        elif a.required:
            raise ShapeFail(f"{op.name} needs argument '{a.name}' (args: "
                            + ", ".join(x.name for x in op.args) + ")", BAD_ARGUMENTS)
        else:
            args[a.name] = a.default
    return args


def checked_args(call: LayerOp | FunctionOp, sym: Callable[[Expr], Any], ctx: ProverCtx,
                 config: dict, owner: Node) -> dict:
    """op_args, each given one of its declared type and within its bounds (proved in
    `ctx`): an error located at the argument otherwise."""
    op = ops.REGISTRY[call.op]
    args = op_args(op, call.args, sym)
    for a in op.args:
        try:  # a default is always valid: what fails is given, located at its value
            if a.name in call.args:
                given = call.args[a.name]
                ctx.of_type(args[a.name], a, f"{op.name}'s '{a.name}'",
                            entries_text(given) if a.kind == "mapping" else given.text)
            if a.low is not None or a.high is not None:
                ctx.in_bounds(args[a.name], a.low, a.high, f"{op.name}'s '{a.name}'")
        except ShapeFail as exc:
            raise error(call.args[a.name].loc, exc.code,
                        f"node '{owner.name}': {exc}" + config_text(config),
                        *exc.notes) from None
    return args


def sub_args(call: SubSpec, value: Callable[[Expr], Any], owner: Node, config: dict) -> dict:
    """The values of the arguments a `use:` call gives (through `value`): a `choices` param's
    one of them, as the sub-spec's constructor requires (ValueError otherwise), an error at
    the argument; a required param not given is a ShapeFail (its caller locates it)."""
    sub, values = call.spec, {}
    for p in sub.params.values():
        if p.name in call.args:
            values[p.name] = got = value(call.args[p.name])
            if p.choices and isinstance(got, int | float | str) and got not in p.choices:
                raise error(call.args[p.name].loc, BAD_ARGUMENTS, f"node '{owner.name}': "
                            f"{sub.name}'s '{p.name}' must be one of "
                            + ", ".join(map(repr, p.choices)) + f", got {got!r}"
                            + config_text(config))
        elif p.required:
            raise ShapeFail(f"{sub.name} needs argument '{p.name}'", BAD_ARGUMENTS)
    return values


def init_options(decl: TensorDecl, value: Callable[[Expr], Any], owner: Node,
                 config: dict) -> None:
    """A param's or buffer's init options written as expressions (`std: dim_head ** -0.5`),
    each a finite number at this configuration's values (`value`; a whole one for a long
    tensor's `value`), and all of them options the initialiser takes
    (parse_tensors.option_fault): an error at the expression (or the node) otherwise."""
    options = {k: v for k, v in decl.options.items() if k not in ("formula", "index")}
    exprs = {k: v for k, v in options.items() if isinstance(v, Expr)}
    numbers: dict[str, float] = {}
    for key, option in options.items():
        if not isinstance(option, Expr):
            if isinstance(option, float):
                numbers[key] = option
            continue  # a word; a window's sizes (infer checks them against the shape)
        got = value(option)
        number = float(got) if isinstance(got, int | float) and not isinstance(got, bool) \
            else None
        if number is None or not math.isfinite(number):
            what = "not a number" if number is None else "not finite"
            raise error(option.loc, BAD_VALUE, f"node '{owner.name}': init '{key}' is "
                        f"{got!r} ({what}); it must be a finite number" + config_text(config))
        if decl.dtype == "long" and key == "value" and number != int(number):
            raise error(option.loc, BAD_VALUE, f"node '{owner.name}' is a long tensor: its "
                        f"'value' must be a whole number, got {got!r}" + config_text(config))
        numbers[key] = number
    wrong = option_fault(decl.init, numbers)
    if wrong is not None:
        key, message = wrong
        where = exprs[key].loc if key in exprs else \
            next(iter(exprs.values())).loc if exprs else owner.loc
        raise error(where, BAD_VALUE, f"node '{owner.name}': {message}"
                    + config_text(config))


def check_formula(decl: TensorDecl, value: Callable[[Expr, dict], Any], owner: Node,
                  config: dict) -> None:
    """`init: formula` gives a finite number within float32's range at the elements of
    _formula_points (the dims at this configuration's values; `value` evaluates an
    expression with names bound: the index)."""
    formula, index = decl.options.get("formula"), decl.options.get("index")
    if not isinstance(formula, Expr) or not isinstance(index, tuple):
        return
    if decl.dtype == "long":
        _whole_only(formula, owner)
        for name in sorted(formula.names - {n.text for n in index}):  # a float let or param
            got = value(Expr(name, ast.Name(name, ast.Load()), formula.loc), {})
            if isinstance(got, float):
                raise error(formula.loc, BAD_VALUE, f"node '{owner.name}': a long tensor's "
                            f"formula reads '{name}', {got!r} here: a float (a let with "
                            "`/`, a float param) is not whole at every value",
                            "make it an int (`//`), or the tensor a float one")
    sizes = [n if isinstance(n, int) and n >= 1 else 1
             for n in (value(d, {}) for d in decl.shape)]
    for point in _formula_points(sizes):
        at = {name.text: float(i) for name, i in zip(index, point, strict=True)}
        where = ", ".join(f"{k}={int(v)}" for k, v in at.items())
        try:
            got = value(formula, at)
        except SpecError as exc:  # `cannot evaluate ...: division by zero`: say where
            why = exc.diagnostics[0].message.rsplit(": ", 1)[-1]
            raise error(formula.loc, BAD_VALUE, f"node '{owner.name}': the formula cannot be "
                        f"evaluated at {where}: {why}" + config_text(config)) from None
        if isinstance(got, bool) or not isinstance(got, int | float) or not math.isfinite(got) \
                or abs(got) > FLOAT32_MAX:
            raise error(formula.loc, BAD_VALUE, f"node '{owner.name}': the formula gives "
                        f"{got!r} at {where}; each element must be a finite number (within "
                        "float32's range, the default dtype's)" + config_text(config))
        if decl.dtype == "long" and (got != int(got) or abs(got) > 2 ** 53):
            raise error(formula.loc, BAD_VALUE, f"node '{owner.name}': the formula gives "
                        f"{got!r} at {where}; each element of a long tensor must be a whole "
                        "number (of at most 2 ** 53 in size: the index is float64)"
                        + config_text(config), "keep its values within 2 ** 53" if got == int(got)
                        else "divide with `//` (a whole number), not `/`")


def _whole_only(formula: Expr, owner: Node) -> None:
    """A long tensor's formula makes whole numbers from whole numbers at every value, not
    only where the elements checked happen to be whole (`(i - j) / r` at r = 1): no `/`,
    no float literal, no sin/cos/exp/log/sqrt, no `**` but by a literal from 0."""
    for n in ast.walk(formula.tree):
        if bad := _not_whole(n):
            raise error(formula.loc.shifted(getattr(n, "col_offset", 0)), BAD_VALUE,
                        f"node '{owner.name}': a long tensor's formula has {bad}: its "
                        "values must be whole at every value of the params, not only at "
                        "those checked", "write it with `//`, `%`, `+`, `-`, `*`, abs, "
                        "min and max over whole numbers")


def _not_whole(node: ast.AST) -> str | None:
    """What in a formula's node may make a fraction of whole numbers, or None."""
    match node:
        case ast.BinOp(op=ast.Div()):
            return "`/` (divide with `//`)"
        case ast.Constant(value=float() as value):
            return f"the float {value!r}"
        case ast.Call(func=ast.Name(id=name)) if name in FORMULA_FUNCTIONS:
            return f"{name}()"
        case ast.BinOp(op=ast.Pow(), right=right) if not (
                isinstance(right, ast.Constant) and isinstance(right.value, int)
                and right.value >= 0):
            return "`**` by other than a literal from 0"
    return None


FLOAT32_MAX = 3.4028234663852886e38
FORMULA_POINTS = 4096  # elements a formula is evaluated at, where the tensor has more


def _formula_points(sizes: list[int]) -> Iterator[tuple[int, ...]]:
    """Every element where there are at most FORMULA_POINTS; else, along each dim, its
    first and last FORMULA_POINTS // 2 indices and FORMULA_POINTS spread between (where
    a growing formula leaves float32's range, or 2 ** 53, at the far end) with the other
    dims at their first, middle and last."""
    if math.prod(sizes) <= FORMULA_POINTS:
        yield from itertools.product(*(range(n) for n in sizes))
        return
    half = FORMULA_POINTS // 2
    for d, n in enumerate(sizes):
        others = [sorted({0, m // 2, m - 1}) for m in sizes[:d] + sizes[d + 1:]]
        along = {*range(min(n, half)), *range(max(0, n - half), n),
                 *range(0, n, max(1, n // FORMULA_POINTS))}
        for i in sorted(along):
            for rest in itertools.product(*others):
                yield (*rest[:d], i, *rest[d:])


def pairs(ctx: ProverCtx, name: str, table: Any, window: tuple[Expr, ...],
          sizes: list[Any]) -> None:
    """`init: relative_position`'s table pairs the positions of its window: each size at
    least 1, and both dims of the table prod(window)."""
    for size, expr in zip(sizes, window, strict=True):
        ctx.at_least(size, 1, f"buffer '{name}': window size '{expr.text}'")
    positions = sympy.Mul(*sizes)
    shown = " * ".join(f"({e.text})" if len(window) > 1 and not e.text.isidentifier()
                       else e.text for e in window)
    for i, dim in enumerate(table):
        ctx.eq(dim, positions, f"dim {i} of buffer '{name}'", "its window's position count "
               f"(init: relative_position pairs its {shown} positions)")
