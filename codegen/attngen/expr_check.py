"""Which Python expression trees a spec may hold (the whitelist, checked node by node when
an expression is parsed), and the names a tree reads from outside itself."""

from __future__ import annotations

import ast

from .errors import EXPR_NOT_ALLOWED, Loc, error
from .expr_source import CONSTANTS, FUNCTIONS

MAX_DEPTH = 32  # nesting of the expression tree
MAX_POW = 8  # |exponent| of `**` written as a literal
MAX_NAMED_POW = 64  # |exponent| of `**` given by a name (a loop variable: `2 ** i`)
MAX_INT = 10**15  # concrete integers beyond this are refused (no runaway arithmetic)
_ALLOWED = (  # a list comprehension is checked apart (_check_comprehension)
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Call, ast.Tuple, ast.List, ast.Subscript,
    ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,  # as expr's _BINOPS
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)


def free_names(tree: ast.AST) -> frozenset[str]:
    """The names `tree` reads from outside: a comprehension's variable is its own."""
    found: set[str] = set()

    def walk(node: ast.AST, bound: frozenset[str]) -> None:
        if isinstance(node, ast.ListComp):  # one `for` (check_tree): its iterable reads outside
            gen = node.generators[0]
            walk(gen.iter, bound)
            inner = bound | {gen.target.id} if isinstance(gen.target, ast.Name) else bound
            for part in (node.elt, *gen.ifs):
                walk(part, inner)
            return
        if isinstance(node, ast.Name) and node.id not in bound:
            found.add(node.id)
        for child in ast.iter_child_nodes(node):
            walk(child, bound)

    walk(tree, frozenset())
    # `range` is an `each:` iterable's and a comprehension's only (parse)
    return frozenset(found - set(CONSTANTS) - set(FUNCTIONS) - {"range"})


def is_range(tree: ast.AST) -> bool:
    """`range(...)`: an `each:` iterable (parse with `iterable=True`; 1 to 3 arguments)."""
    return isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) \
        and tree.func.id == "range"


def check_tree(node: ast.AST, text: str, loc: Loc, depth: int, iterable: bool = False,
           extra: tuple[str, ...] = (), comprehension: bool = False) -> None:
    where = loc.shifted(getattr(node, "col_offset", 0))
    if depth > MAX_DEPTH:
        raise error(where, EXPR_NOT_ALLOWED, f"expression nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.ListComp):
        _check_comprehension(node, text, loc, depth, extra, comprehension)
        return
    if not isinstance(node, _ALLOWED):
        what = type(node).__name__
        raise error(where, EXPR_NOT_ALLOWED, f"'{what}' is not allowed in expressions: '{text}'",
                    "expressions may use numbers, names, + - * / // % **, comparisons, "
                    "and/or/not, 'a if c else b', [..] literals, x[i] and "
                    + ", ".join(f"{f}()" for f in FUNCTIONS))
    if isinstance(node, ast.Constant):
        if not (node.value is None or isinstance(node.value, (bool, int, float, str))):
            raise error(where, EXPR_NOT_ALLOWED, f"literal {node.value!r} is not allowed")
        if isinstance(node.value, int) and not isinstance(node.value, bool) \
                and abs(node.value) > MAX_INT:
            raise error(where, EXPR_NOT_ALLOWED, f"integer literal larger than {MAX_INT}")
        if isinstance(node.value, str) and len(node.value) > 64:
            raise error(where, EXPR_NOT_ALLOWED, "string literal longer than 64 characters")
    if isinstance(node, ast.Name) and (node.id.startswith("_") or node.id == "self"):
        raise error(where, EXPR_NOT_ALLOWED, f"name '{node.id}' is not allowed in expressions")
    if isinstance(node, ast.Call):
        loop = iterable and depth == 1 and is_range(node)  # `each: i in range(n)`
        if not isinstance(node.func, ast.Name) or (node.func.id not in (*FUNCTIONS, *extra)
                                                   and not loop):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise error(where, EXPR_NOT_ALLOWED, f"call of '{name}' is not allowed; functions: "
                        + ", ".join((*FUNCTIONS, *extra)))
        if node.keywords:
            raise error(
                where, EXPR_NOT_ALLOWED, "keyword arguments are not allowed in expressions"
            )
        arity = {"max": (1, 8), "min": (1, 8), "range": (1, 3)}.get(node.func.id, (1, 1))
        if not arity[0] <= len(node.args) <= arity[1]:
            raise error(where, EXPR_NOT_ALLOWED, f"{node.func.id}() takes {arity[0]}"
                        + (f" to {arity[1]}" if arity[1] != arity[0] else "") + " argument(s)")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise error(where, EXPR_NOT_ALLOWED, "'*' arguments are not allowed")
            check_tree(a, text, loc, depth + 1, extra=extra, comprehension=comprehension)
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exp = node.right
        if isinstance(exp, ast.UnaryOp) and isinstance(exp.op, ast.USub):
            exp = exp.operand
        literal = isinstance(exp, ast.Constant) and isinstance(exp.value, (int, float)) \
            and not isinstance(exp.value, bool) and abs(exp.value) <= MAX_POW
        if isinstance(exp, ast.Constant) and not literal:
            raise error(where, EXPR_NOT_ALLOWED, f"the exponent of '**' must be a number literal "
                        f"of at most {MAX_POW} or an expression whose value is a number of at "
                        f"most {MAX_NAMED_POW} (a loop variable: 2 ** i)")
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        raise error(
            where, EXPR_NOT_ALLOWED, "slices are not allowed in expressions; index with x[i]"
        )
    for child in ast.iter_child_nodes(node):
        check_tree(child, text, loc, depth + 1, iterable, extra, comprehension)


def _check_comprehension(node: ast.ListComp, text: str, loc: Loc, depth: int,
                         extra: tuple[str, ...], allowed: bool) -> None:
    """`[ELT for NAME in ITER if COND]`, in a let's value only: one `for` over a list or
    `range(...)`, any number of `if`s."""
    where = loc.shifted(node.col_offset)
    if not allowed:
        raise error(where, EXPR_NOT_ALLOWED, f"a list comprehension is allowed in a let's value "
                    f"only: '{text}'", "compute the list in 'let:' (dims: \"[dim // 2 ** i for "
                    "i in range(order)]\") and read the let by its name")
    if len(node.generators) != 1:
        raise error(where, EXPR_NOT_ALLOWED, "a list comprehension takes one 'for'; nest a "
                    "second comprehension in its value for more")
    gen = node.generators[0]
    if not isinstance(gen.target, ast.Name):
        raise error(loc.shifted(gen.target.col_offset), EXPR_NOT_ALLOWED, "a comprehension's "
                    "variable is one name: 'for i in ...'")
    name = gen.target.id
    if name.startswith("_") or name == "self" or name in CONSTANTS or name in FUNCTIONS \
            or name in extra or name == "range":
        raise error(loc.shifted(gen.target.col_offset), EXPR_NOT_ALLOWED,
                    f"'{name}' cannot be a comprehension's variable")
    if is_range(gen.iter):
        if gen.iter.keywords or not 1 <= len(gen.iter.args) <= 3:  # type: ignore[attr-defined]
            raise error(loc.shifted(gen.iter.col_offset), EXPR_NOT_ALLOWED,
                        "range() takes 1 to 3 arguments")
        iters = list(gen.iter.args)  # type: ignore[attr-defined]
    else:
        iters = [gen.iter]
    for part in (*iters, node.elt, *gen.ifs):
        if isinstance(part, ast.Starred):
            raise error(where, EXPR_NOT_ALLOWED, "'*' arguments are not allowed")
        check_tree(part, text, loc, depth + 1, extra=extra, comprehension=True)
