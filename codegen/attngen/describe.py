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
from .expr import Expr
from .fields import entries, entries_text
from .model import (
    Cases,
    FunctionOp,
    Item,
    LayerCall,
    LayerOp,
    Map,
    Node,
    NodeForm,
    Repeat,
    Seq,
    Spec,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    cases_of,
    layer_target,
    unwrapped,
)

Call = LayerOp | FunctionOp | SubSpec  # one call of an op or a sub-spec
TENSOR_FIELDS = ("shape", "init", "dtype", "persistent")  # a param's or buffer's, for diff


def callee(call: Call) -> str:
    """What a node or a layer of a `seq:` calls: the op, or the sub-spec's class."""
    return call.spec.name if isinstance(call, SubSpec) else call.op


# -- tables ------------------------------------------------------------------------------
def label(node: Node) -> str:
    """The callee of a node, for one line of a table."""
    return _label(node.form)


def _label(form: NodeForm) -> str:
    match form:
        case Cases(cases):
            return "cases(" + ", ".join(label(c) for c in cases) + ")"
        case LayerCall(target):
            return f"apply {target.name}"
        case Seq(items):
            return "seq(" + ", ".join(("each " if i.each else "") + _label(i.form)
                                      + ("?" if i.when else "") for i in items) + ")"
        case LayerOp() | FunctionOp():
            return form.op
        case SubSpec():
            return f"use {callee(form)}"
        case Repeat(body=LayerOp() | FunctionOp() | SubSpec() as body):
            return f"each {_label(body)}"
        case Repeat(body=body) | Map(body=body):  # `each` shows on a single call only
            return _label(body)
        case Stack():
            return "each body"
        case TensorDecl(kind):
            return kind
        case _:
            assert_never(form)


# -- diagrams and docs ---------------------------------------------------------------------
def applications(spec: Spec, layer: str) -> int:
    """How many nodes (or cases) call the layer `layer` (its own node included if it has
    inputs)."""
    count = int(bool(spec.nodes[layer].inputs))
    for node in spec.nodes.values():
        bodies = [node, *cases_of(node)]  # cases exclude each other: one call at most
        targets = [layer_target(b.form) for b in bodies]
        count += any(t is not None and t.name == layer for t in targets)
    return count


def call_label(node: Node, spec: Spec | None = None) -> str:
    """`Conv1d(1, 1, k=3)`-style summary of what a node does."""
    return _call_label(node.form, spec)


def _call_label(form: NodeForm, spec: Spec | None) -> str:
    match form:
        case LayerCall(target):
            layer = spec.nodes.get(target.name) if spec is not None else None
            if spec is not None and layer is not None and layer_target(layer.form) is None \
                    and applications(spec, layer.name) == 1:
                return f"{target.name}: {call_label(layer)}"  # declared once, called once
            return f"{target.name} (shared weights)"
        case Cases(cases):
            return "one of: " + ", ".join(call_label(c, spec) for c in cases)
        case Seq(items):
            return " → ".join(item_call(i) for i in items)
        case LayerOp() | FunctionOp() | SubSpec():
            return layer_call(form)
        case Repeat(body=LayerCall() as body) | Map(body=LayerCall() as body):
            return _call_label(body, spec)
        case Repeat(var, iterable, body, zipped):
            each = f"{var} in " if var else ""
            one = ", one per tensor" if zipped else ""
            return f"[{_call_label(body, spec)} for {each}{iterable.text}{one}]"
        case Map(body):
            return f"map {_call_label(body, spec)}"
        case Stack(var, iterable, body):
            steps = " → ".join(call_label(n, body.spec) for n in body.spec.nodes.values())
            each = f"{var} in " if var else ""
            return f"[{steps}] for {each}{iterable.text}, each copy on the last"
        case TensorDecl():
            return tensor_label(form)
        case _:
            assert_never(form)


def tensor_label(decl: TensorDecl) -> str:
    """`param [1, C // 2, 1, 1], zeros`; a buffer's dtype and `not saved` when they apply."""
    parts = [f"{decl.kind} [{', '.join(d.text for d in decl.shape)}]", init_text(decl)]
    parts += [decl.dtype] if decl.dtype != "float" else []
    parts += [] if decl.persistent else ["not saved"]
    return ", ".join(parts)


def _option_text(value: object) -> str:
    if isinstance(value, tuple):  # a window's sizes
        return "[" + ", ".join(_option_text(v) for v in value) + "]"
    return value.text if isinstance(value, Expr) else str(value)


def init_text(decl: TensorDecl) -> str:
    """`normal(std=0.02)`, `zeros`: the initialiser with its options; a formula as
    `formula(p, i) = sin(p / d)`."""
    formula, index = decl.options.get("formula"), decl.options.get("index")
    if isinstance(formula, Expr) and isinstance(index, tuple):
        return f"formula({', '.join(i.text for i in index)}) = {formula.text}"
    options = ", ".join(f"{k}={_option_text(v)}" for k, v in decl.options.items())
    return decl.init + (f"({options})" if options else "")
def item_call(item: Item) -> str:
    """A layer of a `seq:` with its loop and condition: `[Conv2d(...) for i in range(n)]`,
    `BatchNorm2d(C) if use_bn`."""
    text = layer_call(item.form)
    if item.each is not None:
        var = f"{item.each.var} in " if item.each.var else ""
        text = f"[{text} for {var}{item.each.iterable.text}]"
    return f"{text} if {item.when.text}" if item.when is not None else text


def layer_call(call: Call) -> str:
    """One call with its key arguments: the op's `key_args` (all given, if it names none),
    positionally while they are the op's first arguments in order, then by name (PyTorch's
    `Unfold(3, padding=1)`, never `Unfold(3, 1)`, whose 1 is the dilation); a sub-spec's
    arguments by name."""
    shown: list[str]
    if isinstance(call, SubSpec):
        shown = [f"{k}={e.text}" for k, e in call.args.items()]
    else:
        op = ops.REGISTRY[call.op]
        order = [a.name for a in op.args]
        names = [a for a in op.key_args or order if a in call.args]
        shown = []
        place: int | None = 0  # the next argument that may be shown by position, if any
        for name in names:
            text = _shown(call, name)
            if place is not None and order.index(name) == place:
                place += 1
            else:
                place = None
                text = text if _mapping(call, name) is not None else f"{name}={text}"
            shown.append(text)
        if len(shown) == 1 and op.args[0].kind == "shape" and op.args[0].name in call.args:
            shown = [_unwrap(shown[0])]  # view(B, C, 1, 1), as PyTorch's varargs form reads
    return f"{callee(call)}({', '.join(shown)})"


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
    form = unwrapped(node.form)
    owned: dict[str, str] = {}  # a param's or buffer's own fields
    match form:
        case Cases(cases):
            kind = "cases"
            body = " | ".join(f"when {c.when.text if c.when else ''}: " + definition_text(c)
                              for c in cases)
        case LayerCall(target):
            kind, body = f"apply {target.name}", ""
        case Seq(items):
            kind, body = "seq", "; ".join(
                ((f"each {i.each.var + ' in ' if i.each.var else ''}{i.each.iterable.text}: "
                  if i.each else "") + (f"when {i.when.text}: " if i.when else "")
                 + _written_call(i.form)) for i in items)
        case LayerOp() | FunctionOp() | SubSpec():
            kind, body = _written_callee(form), _args(form)
        case Stack(body=body):  # its nodes compared as one text
            kind, body = "body", "; ".join(f"{n.name}: {definition_text(n)}"
                                           for n in body.spec.nodes.values())
        case TensorDecl():  # compared field by field: `~ gamma: init: zeros -> ones`
            kind, body = form.kind, ""
            owned = {"shape": f"[{', '.join(d.text for d in form.shape)}]",
                     "init": init_text(form), "dtype": "" if form.dtype == "float" else form.dtype,
                     "persistent": "" if form.persistent else "false"}
        case _:
            assert_never(form)
    each = node.form if isinstance(node.form, Repeat | Stack) else None
    fields = {
        "op": kind,
        "args": body,
        "in": ", ".join(r.name for r in node.inputs),
        "if_given": node.if_given.name if node.if_given else "",
        "when": node.when.text if node.when else "",
        "each": (f"{each.var} in " if each.var else "") + each.iterable.text if each else "",
        "out": ", ".join(node.out or ()),
        "map": "true" if isinstance(node.form, Map) else "",
        **owned,
        "zip": node.inputs[0].name if isinstance(each, Repeat) and each.zipped else "",
    }
    return {k: v for k, v in fields.items() if v}


def definition_text(node: Node) -> str:
    """What a node calls and with what, as written: `AdaptiveAvgPool2d(output_size=1)`,
    `param(shape=[1], init=zeros)`."""
    fields = definition(node)
    args = fields.get("args") or ", ".join(f"{k}={fields[k]}" for k in TENSOR_FIELDS
                                           if k in fields)
    return fields["op"] + (f"({args})" if args else "")


def _written_callee(call: Call) -> str:
    """An op by name, a sub-spec by the reference written (`use spatial_attention`)."""
    return f"use {call.ref}" if isinstance(call, SubSpec) else call.op


def _written_call(call: Call) -> str:
    return f"{_written_callee(call)}({_args(call)})"


def _mapping(call: Call, name: str) -> list[tuple[str, str]] | None:
    """The (name, text) entries of a mapping argument (`sizes: {g: groups}`), else None."""
    if isinstance(call, SubSpec) or ops.REGISTRY[call.op].arg(name).kind != "mapping":
        return None
    return [(k, v.text) for k, v in entries(call.args[name])]


def _shown(call: Call, name: str) -> str:
    """An argument in a diagram label: a mapping as keywords (`g=groups`)."""
    pairs = _mapping(call, name)
    return call.args[name].text if pairs is None else ", ".join(f"{k}={v}" for k, v in pairs)


def _args(call: Call) -> str:
    parts = []
    for k, v in call.args.items():
        pairs = _mapping(call, k)
        text = v.text if pairs is None else entries_text(v)
        parts.append(f"{k}={text}")
    return ", ".join(parts)


def shape_rule(body: Node) -> str:
    """The shape rule of what a node (or case) calls, for error notes: its op's, or the
    sub-spec it calls."""
    called = unwrapped(body.form)
    match called:
        case LayerOp(op) | FunctionOp(op):
            return f"{op}: {ops.REGISTRY[op].rule}"
        case SubSpec(spec=sub):
            return f"{sub.name} (from {sub.file})"
        case Stack():
            return "each copy of a loop body gives the shape it reads (its 'shape')"
        case Seq() | LayerCall() | Cases() | TensorDecl():
            return ""
        case _:
            assert_never(called)


def varied(spec: Spec, configs: list[dict[str, object]]) -> str:
    """What `configs` vary, as docs pages say it: `the bool and choice params and of
    qk_scale at its default and example`."""
    structural = {p.name for p in spec.params.values() if p.structural}
    pinned = {k for c in configs for k in c} - structural
    tried = sorted(k for k in pinned if spec.params[k].tries_example)
    parts = ["the bool and choice params" if structural else "",
             "the branches `when:` takes over int params" if pinned - set(tried) else "",
             f"{', '.join(tried)} at {'its' if len(tried) == 1 else 'their'} default and "
             "example" if tried else ""]
    return " and of ".join(p for p in parts if p)
