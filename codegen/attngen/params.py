"""Parameter counts from the spec alone (no torch): per node and in total."""

from __future__ import annotations

from . import ops
from .errors import error
from .spec import Item, Node, Spec


def param_values(spec: Spec, overrides: dict | None = None) -> dict:
    """Concrete values of params and lets (defaults or examples, then overrides)."""
    values = {p.name: p.sample for p in spec.params.values()}
    values.update(overrides or {})
    for let in spec.lets.values():
        values[let.name] = let.expr.value(values)
    return values


def _item(item: Item, values: dict) -> int:
    if item.use:
        sub_values = {}
        for p in item.spec.params.values():
            if p.name in item.args:
                sub_values[p.name] = item.args[p.name].value(values)
        return total(item.spec, sub_values)
    op = ops.REGISTRY[item.op]
    if op.params is None:
        return 0
    args = {a.name: (item.args[a.name].value(values) if a.name in item.args else a.default)
            for a in op.args}
    if any(v is ops.REQUIRED for v in args.values()):
        return 0  # reported by the shape checker
    return int(op.params(args))


def node_params(node: Node, values: dict) -> int:
    """Parameters a node owns (0 for tensor functions and `apply`)."""
    if node.cases is not None:
        for case in node.cases:
            if case.when.value(values):
                return node_params(case, values)
        return 0
    if node.apply is not None:
        return 0
    if node.each is not None:
        items = node.each.value(values)
        if not isinstance(items, (list, tuple)):
            raise error(node.each.loc, "E402", f"'each' needs a list, got {items!r}")
        return sum(_body(node, {**values, **({node.each_var: i} if node.each_var else {})})
                   for i in items)
    return _body(node, values)


def _body(node: Node, values: dict) -> int:
    if node.seq is not None:
        return sum(_item(i, values) for i in node.seq)
    return _item(node.as_item(), values)


def per_node(spec: Spec, overrides: dict | None = None) -> dict[str, int]:
    values = param_values(spec, overrides)
    return {name: node_params(node, values) for name, node in spec.nodes.items()
            if node.when is None or node.when.value(values)}


def total(spec: Spec, overrides: dict | None = None) -> int:
    return sum(per_node(spec, overrides).values())
