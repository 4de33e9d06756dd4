"""A sub-spec's conditions in its caller's terms. A `use:` node that passes a param on
(`{use: sub, r: r}`) makes the sub-spec's `when: r > 1` a condition of the caller: the
caller's configurations split on it (configs.conditions), so each branch the sub-spec
takes is checked with the shapes the caller gives it (with the caller's `r` a symbol
over every value, the branch taken at the default's value was judged for all of them).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from .expr import Expr
from .model import Repeat, Seq, Spec, SubSpec, cases_of, unwrapped


def calls(spec: Spec) -> Iterator[SubSpec]:
    """The sub-spec calls of a spec's nodes, cases, `seq:` layers and `each` bodies (not
    loop bodies: they are the spec's own graph, under its own params)."""
    for node in spec.nodes.values():
        for body in [node, *cases_of(node)]:
            form = body.form.body if isinstance(body.form, Repeat) else body.form
            called = unwrapped(form)
            if isinstance(called, SubSpec):
                yield called
            elif isinstance(called, Seq):
                yield from (i.form for i in called.items if isinstance(i.form, SubSpec))


class _Substitute(ast.NodeTransformer):
    def __init__(self, trees: dict[str, ast.expr]) -> None:
        self.trees = trees

    def visit_Name(self, node: ast.Name) -> ast.expr:
        tree = self.trees.get(node.id)
        return copy.deepcopy(tree) if tree is not None else node


def in_caller_terms(cond: Expr, call: SubSpec, caller: Spec) -> Expr | None:
    """`cond` of `call.spec` with its params replaced by the arguments the call passes
    (the defaults where it passes none) and its lets by their expressions; None where the
    result reads anything but the caller's params and lets (a loop variable, a dim)."""
    sub = call.spec
    trees: dict[str, ast.expr] = {}
    for p in sub.params.values():
        trees[p.name] = call.args[p.name].tree if p.name in call.args \
            else ast.parse(repr(p.sample), mode="eval").body
    for let in sub.lets.values():  # in order: a let reads the lets before it
        trees[let.name] = _Substitute(trees).visit(copy.deepcopy(let.expr.tree))
    tree = _Substitute(trees).visit(copy.deepcopy(cond.tree))
    translated = Expr(ast.unparse(tree), tree, cond.loc)
    return translated if translated.names <= {*caller.params, *caller.lets} else None
