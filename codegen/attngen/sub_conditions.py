"""A sub-spec's conditions in its caller's terms. A `use:` node that passes a param on
(`{use: sub, r: r}`) makes the sub-spec's `when: r > 1` a condition of the caller: the
caller's configurations split on it (configs.conditions), so each branch the sub-spec
takes is checked with the shapes the caller gives it (with the caller's `r` a symbol
over every value, the branch taken at the default's value was judged for all of them).
A call inside a loop (`each`, a loop body) whose arguments read the loop variable gives
one condition per item (`k + i > 1` at i = 0, 1, ...: the loop runs at the defaults'
count); a loop body's own conditions are in the caller's names already.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from typing import NamedTuple

from .counts import param_values
from .errors import SpecError
from .expr import Expr
from .loops import items_of
from .model import Repeat, Seq, Spec, Stack, SubSpec, cases_of, unwrapped


class Call(NamedTuple):
    sub: SubSpec
    loop: Repeat | Stack | None  # the loop the call runs in: its variable may be an argument

    @property
    def inline(self) -> bool:
        """A loop body: the caller's own params and lets, under their own names."""
        return isinstance(self.loop, Stack)


def calls(spec: Spec) -> Iterator[Call]:
    """The sub-spec calls of a spec's nodes, cases, `seq:` layers, `each` copies and loop
    bodies, each with the loop it runs in."""
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            if isinstance(body.form, Stack):
                yield Call(body.form.body, body.form)
                continue
            loop = body.form if isinstance(body.form, Repeat) else None
            called = unwrapped(loop.body if loop is not None else body.form)
            if isinstance(called, SubSpec):
                yield Call(called, loop)
            elif isinstance(called, Seq):
                yield from (Call(i.form, loop) for i in called.items
                            if isinstance(i.form, SubSpec))


class _Substitute(ast.NodeTransformer):
    def __init__(self, trees: dict[str, ast.expr]) -> None:
        self.trees = trees

    def visit_Name(self, node: ast.Name) -> ast.expr:
        tree = self.trees.get(node.id)
        return copy.deepcopy(tree) if tree is not None else node


class _Fold(ast.NodeTransformer):
    """`k + 0` -> `k`, `2 * 1` -> `2`: what an item put in for a loop variable leaves."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        unit = 0 if isinstance(node.op, ast.Add | ast.Sub) else 1 \
            if isinstance(node.op, ast.Mult) else None
        for keep, other in ((node.left, node.right), (node.right, node.left)):
            if unit is not None and isinstance(other, ast.Constant) and other.value == unit \
                    and not isinstance(other.value, bool) \
                    and (other is node.right or isinstance(node.op, ast.Add | ast.Mult)):
                return keep
        return node


def _literal(value: object) -> ast.expr:
    return ast.parse(repr(value), mode="eval").body


def in_caller_terms(cond: Expr, call: Call, caller: Spec) -> list[Expr]:
    """`cond` of `call`'s spec with its params replaced by the arguments the call passes
    (the defaults where it passes none) and its lets by their expressions, once per item of
    the loop around the call where that reads its variable; none where a result reads
    anything but the caller's params and lets."""
    sub, trees = call.sub.spec, {}
    if not call.inline:
        for p in sub.params.values():
            trees[p.name] = call.sub.args[p.name].tree if p.name in call.sub.args \
                else _literal(p.sample)
        for let in sub.lets.values():  # in order: a let reads the lets before it
            trees[let.name] = _Substitute(trees).visit(copy.deepcopy(let.expr.tree))
    tree = _Substitute(trees).visit(copy.deepcopy(cond.tree))
    var = call.loop.var if call.loop is not None else None
    if var is not None and var in Expr(ast.unparse(tree), tree, cond.loc).names:
        assert call.loop is not None
        try:
            items = items_of(call.loop.iterable.value(param_values(caller)),
                             call.loop.iterable)
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            return []  # the caller's check reports it
        trees_at = [_Fold().visit(_Substitute({var: _literal(item)}).visit(copy.deepcopy(tree)))
                    for item in items]
    else:
        trees_at = [tree]
    known = {*caller.params, *caller.lets}
    found = [Expr(ast.unparse(t), t, cond.loc) for t in trees_at]
    return [e for e in found if e.names <= known]
