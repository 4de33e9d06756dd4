"""Comparisons in generated source read with the constant on the right: `self.n == N`,
never the "Yoda" `N == self.n` that a spec may write (`requires: [N == n]`) and that
ruff refuses (SIM300). The test is ruff's: a literal is surely a constant, a name or an
attribute in capitals (`N`, `self.H`) probably one, anything else not; an operand is
as constant as its least constant part. Only a comparison of two operands is turned.
Also `is_negation`: whether one condition is the other's opposite, read from their trees.
"""

from __future__ import annotations

import ast
from functools import lru_cache

# the operator that keeps the meaning when the operands swap sides
MIRROR: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.Eq, ast.NotEq: ast.NotEq, ast.Lt: ast.Gt, ast.Gt: ast.Lt,
    ast.LtE: ast.GtE, ast.GtE: ast.LtE,
}


@lru_cache(maxsize=4096)
def constant_last(source: str) -> str:
    """`source` (one Python expression) with each two-operand comparison whose left side
    is more constant than its right turned round; `source` itself where none is."""
    if not any(op in source for op in ("==", "!=", "<", ">")):
        return source
    tree = ast.parse(source, mode="eval")
    turned = False
    for node in ast.walk(tree):
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and type(node.ops[0]) in MIRROR
                and _constancy(node.left) > _constancy(node.comparators[0])):
            node.left, node.comparators = node.comparators[0], [node.left]
            node.ops = [MIRROR[type(node.ops[0])]()]
            turned = True
    return ast.unparse(tree.body) if turned else source


def _constancy(node: ast.expr) -> int:
    """2 for a literal, 1 for a name in capitals, 0 for anything else (ruff's measure)."""
    match node:
        case ast.Constant():
            return 2
        case ast.Name(id=name) | ast.Attribute(attr=name):
            return int(any(c.isupper() for c in name) and not any(c.islower() for c in name))
        case ast.Tuple(elts=elts) | ast.List(elts=elts):
            return min((_constancy(e) for e in elts), default=2)
        case ast.BinOp(left=left, right=right):
            return min(_constancy(left), _constancy(right))
        case ast.UnaryOp(op=ast.UAdd() | ast.USub() | ast.Invert(), operand=operand):
            return _constancy(operand)
    return 0


# the operator of a comparison's negation (`x == 1` is `not x != 1`)
_OPPOSITE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
    ast.Gt: ast.LtE, ast.LtE: ast.Gt,
}


def is_negation(a: ast.expr, b: ast.expr) -> bool:
    """Whether `a` is `not b`, or the opposite comparison of the same two operands (`x == 1`
    of `x != 1`): then exactly one of them holds, whatever the values."""
    if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.Not):
        return ast.dump(a.operand) == ast.dump(b)
    if isinstance(b, ast.UnaryOp) and isinstance(b.op, ast.Not):
        return ast.dump(b.operand) == ast.dump(a)
    if isinstance(a, ast.Compare) and isinstance(b, ast.Compare) \
            and len(a.ops) == len(b.ops) == 1:
        return _OPPOSITE.get(type(b.ops[0])) is type(a.ops[0]) \
            and ast.dump(a.left) == ast.dump(b.left) \
            and ast.dump(a.comparators[0]) == ast.dump(b.comparators[0])
    return False


@lru_cache(maxsize=4096)
def negated(source: str) -> str:
    """`not (source)`, but `x` where `source` is `not x` (ruff refuses `not (not x)`:
    SIM208), parenthesised where an `and` around it would bind into it."""
    tree = ast.parse(source, mode="eval").body
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not):
        inner = ast.unparse(tree.operand)
        return f"({inner})" if isinstance(tree.operand, ast.BoolOp | ast.IfExp) else inner
    return f"not ({source})"
