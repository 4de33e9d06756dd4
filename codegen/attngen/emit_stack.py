"""A loop body (`each:` with `body:`) written into its caller's class.

__init__ holds one nn.ModuleList of the body's layers per copy, in the order the body
declares them (keys `NAME.i.0`, `NAME.i.1`; a body of one layer holds it directly, keys
`NAME.i`); forward runs a `for` loop that unpacks them, as one writes a transformer's
layers by hand:

    layers = x
    for att_layer, ffn_layer in self.layers:
        att = att_layer(layers)
        ...
        layers = res + ffn

The value each copy carries is named after the node; inside the loop the body's input and
its last node are that name. The body's own lines are the emitter's (emit.ClassEmitter on
the body's checked spec), with its layers read as the loop's locals.
"""

from __future__ import annotations

import ast
from typing import Protocol

from .accumulate import accumulated, shapes
from .emit_names import Namer, src
from .expr import is_range
from .graph import node_refs
from .lifetimes import value_names, with_dels
from .model import Node, Spec, Stack, owned_layer, tensor_decl
from .names import LOOP_LAYER_SUFFIX
from .results import Checked


class Emitter(Protocol):
    """What this module asks of emit.ClassEmitter (which calls it: no import back)."""

    checked: Checked
    spec: Spec
    uses_factory: bool
    uses_functional: bool

    def for_body(self, body: Checked, carried: str) -> Emitter: ...
    def init_node(self, node: Node, namer: Namer) -> list[str]: ...
    def node_lines(self, namer: Namer) -> list[str]: ...
    def dim_lines(self, namer: Namer) -> list[str]: ...
    def read(self, name: str) -> str: ...
    def factory_kwargs(self) -> str: ...


def _body(parent: Emitter, node: Node) -> tuple[Stack, Emitter]:
    stack = node.form
    assert isinstance(stack, Stack)
    return stack, parent.for_body(parent.checked.subs[stack.body.spec.name], node.name)


def _layers(spec: Spec) -> list[Node]:
    """The body's nodes that own a layer, in the order it declares them."""
    return [n for n in spec.nodes.values() if owned_layer(n.form) is not None]


def stack_init(parent: Emitter, node: Node, namer: Namer) -> list[str]:
    """`self.NAME = nn.ModuleList([nn.ModuleList([...]) for i in range(n)])`, or nothing
    where the body owns no layer."""
    stack, inner = _body(parent, node)
    var = stack.var or "_"
    body_namer = Namer(inner.spec, "init")
    body_namer.loop.add(var)
    made = []
    for layer in _layers(inner.spec):
        (line,) = inner.init_node(layer, body_namer)
        made.append(line.removeprefix(f"self.{layer.name} = "))
    if inner.uses_factory:
        parent.factory_kwargs()
    if not made:
        return []
    one = made[0] if len(made) == 1 else f"nn.ModuleList([{', '.join(made)}])"
    var = var if _reads([one], var) else "_"
    return [f"self.{node.name} = nn.ModuleList([{one} for {var} in "
            f"{src(stack.iterable, body_namer)}])"]


def stack_forward(parent: Emitter, node: Node, namer: Namer) -> list[str]:
    """`NAME = x`, then the loop over the copies with the body's lines inside it."""
    stack, inner = _body(parent, node)
    last = inner.spec.outputs[0].name
    dims: set[str] = set()
    body_namer = Namer(inner.spec, "forward", dims, owner=parent.spec)
    if stack.var:
        body_namer.loop.add(stack.var)
    lines = inner.node_lines(body_namer)
    outer = body_namer.used_dims & set(inner.spec.free_dims)  # `H // 2 ** i`: the caller's H
    body_namer.used_dims -= outer
    namer.used_dims |= outer
    lines = inner.dim_lines(body_namer) + lines  # `B, N, _ = layers.shape`: read()
    lines = accumulated(lines, set(), shapes(inner.checked))
    values, big = value_names(inner.checked)
    values, big = (values | {node.name}) - {last}, (big | {node.name}) - {last}
    lines = with_dels(lines, set(), values, big)
    lines += _end_dels(lines, values - {node.name})
    namer.used_params |= body_namer.used_params
    parent.uses_functional |= inner.uses_functional
    head = _head(stack, [n.name + LOOP_LAYER_SUFFIX for n in _layers(inner.spec)], node.name,
                 _reads(lines, stack.var), lambda e: src(e, namer))
    start = node.inputs[0].name
    # a value of this forward read by nothing after the loop: freed as the loop rebinds
    # the name it carries (hand-written code names both alike: `x = block(x)`)
    later = {r.name for n in parent.checked.order[parent.checked.order.index(node.name) + 1:]
             for r in node_refs(parent.spec.nodes[n])} | {o.name for o in parent.spec.outputs}
    free = start in parent.spec.nodes and start not in later \
        and tensor_decl(parent.spec.nodes[start]) is None
    return [f"{node.name} = {parent.read(start)}", *([f"del {start}"] if free else []), head,
            *("    " + line for line in lines)]


def _head(stack: Stack, layers: list[str], name: str, reads_var: bool, source) -> str:
    """The loop's `for` line: the layers of a copy unpacked, with the loop variable where
    the body's forward reads it."""
    var = stack.var if reads_var and stack.var else None
    if not layers:
        return f"for {var or '_'} in {source(stack.iterable)}:"
    unpacked = layers[0] if len(layers) == 1 else ", ".join(layers)
    if var is None:
        return f"for {unpacked} in self.{name}:"
    group = unpacked if len(layers) == 1 else f"({unpacked})"
    tree = stack.iterable.tree
    if is_range(tree) and len(getattr(tree, "args", ())) == 1:
        return f"for {var}, {group} in enumerate(self.{name}):"
    return f"for {var}, {group} in zip({source(stack.iterable)}, self.{name}, strict=True):"


def _reads(lines: list[str], var: str | None) -> bool:
    """Whether `lines` (Python source) read the name `var`."""
    if var is None:
        return False
    tree = ast.parse("\n".join(lines))
    return any(isinstance(n, ast.Name) and n.id == var for n in ast.walk(tree))


def _end_dels(lines: list[str], values: set[str]) -> list[str]:
    """`del` of the `values` the body binds and leaves alive at its end, so that the next
    copy starts with the carried value alone, as hand-written `x = f(x) + x` does."""
    tree = ast.parse("\n".join(lines))
    bound: dict[str, None] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                bound.pop(getattr(t, "id", ""), None)
        for t in getattr(stmt, "targets", []):
            for n in ast.walk(t):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in values:
                    bound[n.id] = None
    return [f"del {', '.join(bound)}"] if bound else []
