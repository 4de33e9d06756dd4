"""A sub-spec's conditions in its caller's terms. A `use:` node that passes a param on
(`{use: sub, r: r}`) makes the sub-spec's `when: r > 1` a condition of the caller: the
caller's configurations split on it (configs.conditions), so each branch the sub-spec
takes is checked with the shapes the caller gives it (with the caller's `r` a symbol
over every value, the branch taken at the default's value was judged for all of them).
A call inside a loop (`each`, a `seq:` item's `each`, a loop body) whose arguments read
the loop variable gives one condition per item (`k + i > 1` at i = 0, 1, ...), each item
an expression of the caller's params where the loop writes one (`ks: [k, 2 * k]`,
`range(k, k + 2)`); a loop body's own conditions are in the caller's names already.
"""

from __future__ import annotations

import ast
import copy
import itertools
from collections.abc import Iterator
from typing import NamedTuple

from .counts import param_values
from .errors import SpecError
from .expr import Expr, is_range
from .loops import items_of
from .model import Repeat, Seq, Spec, Stack, SubSpec, cases_of, unwrapped


class Call(NamedTuple):
    sub: SubSpec
    var: str | None = None  # the loop variable the call's arguments may read, and its loop
    iterable: Expr | None = None
    inline: bool = False  # a loop body: the caller's own params and lets, by their names


def calls(spec: Spec) -> Iterator[Call]:
    """The sub-spec calls of a spec's nodes, cases, `seq:` layers (with their own `each`),
    `each` copies and loop bodies, each with the loop it runs in."""
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            if isinstance(body.form, Stack):
                yield Call(body.form.body, body.form.var, body.form.iterable, True)
                continue
            loop = body.form if isinstance(body.form, Repeat) else None
            var, iterable = (loop.var, loop.iterable) if loop is not None else (None, None)
            called = unwrapped(loop.body if loop is not None else body.form)
            if isinstance(called, SubSpec):
                yield Call(called, var, iterable)
            elif isinstance(called, Seq):
                for i in called.items:
                    if isinstance(i.form, SubSpec):
                        yield Call(i.form, *((i.each.var, i.each.iterable) if i.each
                                             else (var, iterable)))


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


def _items(call: Call, caller: Spec) -> list[ast.expr]:
    """The loop's items as expressions of the caller's params: a list's own (`ks: [k, 2 *
    k]`), `start + j * step` of a range (`range(k, k + 2)`: `k`, `k + 1`), else numbers;
    as many as any value of the bool and `choices` params gives (`range(3 if deep else
    1)`: three)."""
    assert call.iterable is not None
    tree = call.iterable.tree
    if isinstance(tree, ast.Name) and tree.id in caller.lets:
        tree = caller.lets[tree.id].expr.tree
    if isinstance(tree, ast.List | ast.Tuple):
        return list(tree.elts)
    found: list[object] = []
    names = [p.name for p in caller.params.values() if p.structural]
    domains = [caller.params[n].values for n in names]
    for combo in itertools.islice(itertools.product(*domains), 64):
        try:
            items = items_of(call.iterable.value(param_values(caller, dict(zip(
                names, combo, strict=True)))), call.iterable)
        except (SpecError, ZeroDivisionError, ValueError, TypeError):
            continue  # the caller's check reports it
        found = items if len(items) > len(found) else found
    if is_range(tree) and len(tree.args) > 1:  # type: ignore[attr-defined]
        args = tree.args  # type: ignore[attr-defined]
        step = args[2] if len(args) > 2 else ast.Constant(1)
        return [ast.BinOp(args[0], ast.Add(), ast.BinOp(ast.Constant(j), ast.Mult(), step))
                for j in range(len(found))]
    return [_literal(item) for item in found]


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
    if call.var is not None and call.var in Expr(ast.unparse(tree), tree, cond.loc).names:
        trees_at = [_Fold().visit(_Substitute({call.var: item}).visit(copy.deepcopy(tree)))
                    for item in _items(call, caller)]
    else:
        trees_at = [tree]
    known = {*caller.params, *caller.lets}
    found = [Expr(ast.unparse(t), t, cond.loc) for t in trees_at]
    return [e for e in found if e.names <= known]
