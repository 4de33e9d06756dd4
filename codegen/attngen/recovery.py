"""Error recovery for the shape checker, as a compiler does it: every node of a
configuration is inferred, and a node that fails does not stop the others.

A failed node has no shape, so whatever reads it would fail for its sake alone: a node
that reads a failed node's tensor (or calls its layer), or names a dim its annotation
would have bound, is skipped, and counts as failed for the nodes after it. Every other
node is still inferred, and its own errors are reported too. A node whose only error is
a bound `requires` does not state (a conv's output size below 1 for small inputs) keeps
its shape, so the nodes after it are checked too and their own missing lines reported in
the same run.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import Diagnostic, SpecError
from .expr import Expr
from .graph import node_refs
from .infer import Inference
from .model import FunctionOp, LayerOp, Node, Repeat, Seq, SubSpec, cases_of, unwrapped


def run_all(inference: Inference) -> list[Diagnostic]:
    """Infer every node of `inference` in forward order; the diagnostics of the nodes that
    failed, none for the nodes skipped after them."""
    found: list[Diagnostic] = []
    failed: set[str] = set()  # nodes that failed or were skipped
    unbound: set[str] = set()  # dim names that a failed node's annotation would bind
    for name in inference.order:
        node = inference.spec.nodes[name]
        reads = {inference.prod[ref.name] for ref in node_refs(node)}
        if reads & failed or _names(node) & unbound:
            failed.add(name)
            unbound |= _bound_names(node) - set(inference.env.sym)
            continue
        try:
            inference.step(name)
        except SpecError as exc:
            found += exc.diagnostics
            if name in inference.values:  # its shape stands: only `requires` lines missing
                continue
            failed.add(name)
            unbound |= _bound_names(node) - set(inference.env.sym)
    return found


def _bodies(node: Node) -> list[Node]:
    return [node, *cases_of(node)]


def _annotations(node: Node) -> Iterator[list[Expr]]:
    """Every shape annotation of a node: its own (one per output with `out:`), its
    cases' and its `seq:` layers'."""
    for body in _bodies(node):
        yield from body.annotations()
        called = unwrapped(body.form)
        if isinstance(called, Seq):
            yield from (item.shape for item in called.items if item.shape is not None)


def _loop_vars(node: Node) -> set[str]:
    found = set()
    for body in _bodies(node):
        if isinstance(body.form, Repeat) and body.form.var is not None:
            found.add(body.form.var)
        called = unwrapped(body.form)
        if isinstance(called, Seq):
            found |= {item.each.var for item in called.items
                      if item.each is not None and item.each.var is not None}
    return found


def _bound_names(node: Node) -> set[str]:
    """The names a node's annotations mention, less its loop variables: those not yet
    bound when it fails are the dims it would have bound."""
    return {n for dims in _annotations(node) for d in dims for n in d.names} - _loop_vars(node)


def _names(node: Node) -> set[str]:
    """Every name a node's expressions mention: conditions, the list `each` runs over,
    arguments (of `seq:` layers too) and annotations."""
    exprs = [d for dims in _annotations(node) for d in dims]
    for body in _bodies(node):
        exprs += [body.when] if body.when is not None else []
        if isinstance(body.form, Repeat):
            exprs.append(body.form.iterable)
        called = unwrapped(body.form)
        if isinstance(called, Seq):
            for item in called.items:
                exprs += list(item.form.args.values())
                exprs += [item.when] if item.when is not None else []
                exprs += [item.each.iterable] if item.each is not None else []
        elif isinstance(called, LayerOp | FunctionOp | SubSpec):
            exprs += list(called.args.values())
    return {n for e in exprs for n in e.names}
