"""What a node does, as text: the one place every printer takes a node's label from.

A node names what it calls by `callee`: its op (`Conv2d`) or its sub-spec's class
(`ChannelAttention`). Each printer shows that at the detail it has room for:

- `label`: the callee alone, one line of a table (`attngen check`, `attngen params`):
  `Conv2d`, `each Conv2d`, `use ChannelAttention`, `seq(Linear, ReLU)`, `apply fc1`,
  `cases(identity, interpolate)`.
- `call_label`: the callee with its key arguments, as the module calls it (diagram boxes,
  `attngen show`, the docs' node tables): `Conv1d(1, 1, kernel_size)`,
  `fc1: Conv2d(in_planes, in_planes // ratio, 1)` for a layer declared and applied once.
- `definition`: the node as the spec writes it, field by field, for `attngen diff`, which
  compares spec text: every argument as given, and a `use:` by the reference written
  (`use spatial_attention`: two files may hold classes of one name).
"""

from __future__ import annotations

from . import ops
from .model import Item, Node, Spec


def callee(x: Node | Item) -> str:
    """What a node or a layer of a `seq:` calls: the op, or the sub-spec's class."""
    return x.op or x.spec.name


# -- tables ------------------------------------------------------------------------------
def label(node: Node) -> str:
    """The callee of a node, for one line of a table."""
    if node.cases is not None:
        return "cases(" + ", ".join(label(c) for c in node.cases) + ")"
    if node.apply is not None:
        return f"apply {node.apply.name}"
    if node.seq is not None:
        return "seq(" + ", ".join(i.op or f"use {callee(i)}" for i in node.seq) + ")"
    text = node.op or f"use {callee(node)}"
    return f"each {text}" if node.each is not None else text


# -- diagrams and docs ---------------------------------------------------------------------
def applications(spec: Spec, layer: str) -> int:
    """How many nodes (or cases) call the layer `layer` (its own node included if it has
    inputs)."""
    count = int(bool(spec.nodes[layer].inputs))
    for node in spec.nodes.values():
        bodies = [node, *(node.cases or ())]  # cases exclude each other: one call at most
        count += any(b.apply is not None and b.apply.name == layer for b in bodies)
    return count


def call_label(node: Node, spec: Spec | None = None) -> str:
    """`Conv1d(1, 1, k=3)`-style summary of what a node does."""
    if node.apply is not None:
        layer = spec.nodes.get(node.apply.name) if spec is not None else None
        if layer is not None and layer.apply is None and applications(spec, layer.name) == 1:
            return f"{node.apply.name}: {call_label(layer)}"  # declared once, called once
        return f"{node.apply.name} (shared weights)"
    if node.cases is not None:
        return "one of: " + ", ".join(call_label(c, spec) for c in node.cases)
    if node.seq is not None:
        text = " → ".join(layer_call(i) for i in node.seq)
    else:
        text = layer_call(node)
    if node.each is not None:
        var = f"{node.each_var} in " if node.each_var else ""
        text = f"[{text} for {var}{node.each.text}]"
    if node.map:
        text = f"map {text}"
    return text


def layer_call(x: Node | Item) -> str:
    """One call with its key arguments: the op's `key_args` (all given, if it names none),
    positionally; a sub-spec's arguments by name."""
    if x.op:
        op = ops.REGISTRY[x.op]
        shown = [x.args[a].text for a in op.key_args if a in x.args]
        if not op.key_args:
            shown = [e.text for e in x.args.values()]
        if len(shown) == 1 and op.args[0].kind == "shape" and op.args[0].name in x.args:
            shown = [_unwrap(shown[0])]  # view(B, C, 1, 1), as PyTorch's varargs form reads
    else:
        shown = [f"{k}={e.text}" for k, e in x.args.items()]
    return f"{callee(x)}({', '.join(shown)})"


def _unwrap(text: str) -> str:
    """`(B, C)` or `[B, C]` -> `B, C` when the brackets enclose the whole text."""
    if len(text) < 2 or text[0] + text[-1] not in ("()", "[]"):
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and i < len(text) - 1:
            return text  # `(a) + (b)`: the first bracket closes early
    return text[1:-1]


# -- diff --------------------------------------------------------------------------------
def definition(node: Node) -> dict[str, str]:
    """A node's definition as comparable text fields (empty fields left out)."""
    if node.cases is not None:
        kind = "cases"
        body = " | ".join(f"when {c.when.text}: " + definition_text(c) for c in node.cases)
    elif node.apply is not None:
        kind, body = f"apply {node.apply.name}", ""
    elif node.seq is not None:
        kind, body = "seq", "; ".join(_written_call(i) for i in node.seq)
    else:
        kind, body = node.op or f"use {node.use}", _args(node.args)
    fields = {
        "op": kind,
        "args": body,
        "in": ", ".join(r.name for r in node.inputs),
        "if_given": node.if_given.name if node.if_given else "",
        "when": node.when.text if node.when else "",
        "each": (f"{node.each_var} in " if node.each_var else "") + node.each.text
        if node.each is not None else "",
        "out": ", ".join(node.out or ()),
        "map": "true" if node.map else "",
    }
    return {k: v for k, v in fields.items() if v}


def definition_text(node: Node) -> str:
    """What a node calls and with what, as written: `AdaptiveAvgPool2d(output_size=1)`."""
    fields = definition(node)
    return fields["op"] + (f"({fields['args']})" if fields.get("args") else "")


def _written_call(item: Item) -> str:
    return f"{item.op or f'use {item.use}'}({_args(item.args)})"


def _args(args: dict) -> str:
    return ", ".join(f"{k}={v.text}" for k, v in args.items())
