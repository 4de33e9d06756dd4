"""Shapes as generated code shows them: the comment over a forward line
(`# (B, C, H, W) -> (B, C, 1, 1)`, only where the line changes a shape) and a tensor's shape
as the spec writes it, which class docstrings show too."""

from __future__ import annotations

from . import ops
from .dims import fmt_shape
from .loops import bounds
from .model import FunctionOp, Map, Node, NodeForm, Repeat, Spec, Stack, TensorDecl, cases_of
from .pytext import comment_text
from .results import Checked, ValueShape


def forward_comment(checked: Checked, node: Node, body: Node, *, spec_refs: bool) -> list[str]:
    """The comment over a forward line (`body` is `node` or one of its cases): its shapes
    where they change, the node's doc, and with `spec_refs` the spec line it comes from; no
    comment when that is nothing."""
    parts = []
    if node.name in checked.nodes and (shapes := shape_change(checked, node, body)):
        parts.append(shapes)
    if body.doc or node.doc:
        parts.append(("-- " if parts else "") + (body.doc or node.doc))
    if spec_refs:
        parts.append(f"[{body.loc.file}:{body.loc.line}]")
    return ["# " + comment_text(" ".join(parts))] if parts else []


def shape_change(checked: Checked, node: Node, body: Node) -> str:
    """`(B, C, H, W) -> (B, C, 1, 1)`, or "" when the output has the shape of every input."""
    spec, (info, varies) = checked.spec, checked.shapes_of(node, body)
    if copies_differ(spec) and not spec_shape(spec, node.name):
        return ""  # recorded at the first copy only: shown where the spec writes the shape
    if varies and not (spec_shape(spec, node.name)
                       and all(spec_shape(spec, r.name) for r in body.inputs)):
        return ""  # the shapes differ by configuration, and the spec writes none to show
    counted = bool(bounds(spec))  # shapes recorded at the default of a `range` bound
    ins = [_value_shape(spec, r.name, s, counted)
           for r, s in zip(body.inputs, info.inputs, strict=False)]
    several = len(checked.configs) > 1 or counted  # recorded shapes hold in one of them
    written = [written_shape(checked, r.name) for r in body.inputs]
    if counted:  # as the spec writes them, where it does
        ins = [w or i for w, i in zip(written, ins, strict=False)]
    if len(ins) < len(info.inputs):
        ins += [fmt_shape(s) if s is not None else "None" for s in info.inputs[len(ins):]]
    if several and all(written):
        ins = [w or "" for w in written]
    shown = (several and spec_shape(spec, node.name)) or _output_shape(
        node, body, info.output, counted, written=several)
    if not spec_shape(spec, node.name):  # the value of an input: written as that input is
        same = [i for i, s in zip(ins, info.inputs, strict=False)
                if not isinstance(s, list) and s == info.output]
        shown = same[0] if same else shown
    if ins and all(i == shown for i in ins):
        return ""
    if len(ins) > 1 and all(i == ins[0] for i in ins):
        ins = [f"{len(ins)} x {ins[0]}"]
    return f"{', '.join(ins)} -> {shown}" if ins else f"-> {shown}"


def _output_shape(node: Node, body: Node, out: ValueShape | dict[str, ValueShape],
                  counted: bool = False, *, written: bool = False) -> str:
    """What a node makes, as shown: several outputs one after another (as annotated where
    the values are a count's default or one configuration's: `counted`, `written`), a list
    made by `each` as its declared comprehension; with `counted` (its length a `range`
    bound's default), any other annotated list as `[(annotation), ...]`."""
    if isinstance(out, dict):
        if (counted or written) and node.shape and isinstance(node.shape[0], list):
            return ", ".join("(" + ", ".join(d.text for d in dims) + ")"
                             for dims in node.shape)
        return ", ".join(fmt_shape(v) for v in out.values())
    if isinstance(out, list) and node.shape is not None and isinstance(body.form, Repeat) \
            and body.form.var:
        return _each_shape(node.shape, body.form)
    if isinstance(out, list) and counted and node.shape is not None and not node.out:
        return f"[({', '.join(d.text for d in node.shape)}), ...]"
    return fmt_shape(out)


def _value_shape(spec: Spec, name: str, shape: ValueShape | None, counted: bool) -> str:
    """An input's shape as shown: a list of unequal shapes made by `each` is shown as the
    comprehension its node declares (with `counted`, any list its annotated node makes)."""
    if shape is None:
        return "None"
    producer = spec.nodes.get(name)
    if counted and isinstance(shape, list) and producer is not None:
        return _output_shape(producer, producer, shape, counted)
    if (isinstance(shape, list) and len({tuple(s) for s in shape}) > 1 and producer
            and producer.shape is not None and isinstance(producer.form, Repeat)
            and producer.form.var):
        return _each_shape(producer.shape, producer.form)
    return fmt_shape(shape)


def _each_shape(dims: list, form: Repeat) -> str:
    """A list made by `each`, shown as its declared comprehension: `[(B, k) for k in ks]`."""
    return f"[({', '.join(d.text for d in dims)}) for {form.var} in {form.iterable.text}]"


def written_shape(checked: Checked, name: str, seen: frozenset = frozenset()) -> str | None:
    """A tensor's shape as the spec writes it (spec_shape); for a node that writes none but
    has one input's shape in every configuration (`q * scale`), that input's; for a `cases`
    node, the one its cases' inputs so give (each case taken by some configuration)."""
    if (text := spec_shape(checked.spec, name)) is not None:
        return text
    node = checked.spec.nodes.get(name)
    if node is None or name in seen or isinstance(node.form, Repeat | Map | Stack):
        return None
    keys: list[str | tuple[str, int]] = [(name, i) for i in range(len(cases_of(node)))] or [name]
    bodies = cases_of(node) or [node]
    texts = set()
    for key, body in zip(keys, bodies, strict=True):
        kept = checked.keeps.get(key)
        if not kept:
            return None
        texts.add(written_shape(checked, body.inputs[min(kept)].name, seen | {name}))
    return texts.pop() if len(texts) == 1 else None


def copies_differ(spec: Spec) -> bool:
    """Whether `spec` is a loop body whose copies carry shapes that differ (its `shape:`
    reads the loop variable): its own check sees the first copy only."""
    var = spec.loop_var
    carried = next(iter(spec.inputs.values()), None)
    return var is not None and carried is not None and any(
        var in d.names for d in carried.tensor_shape)


def spec_shape(spec: Spec, name: str) -> str | None:
    """A tensor's shape as the spec writes it (an input's shape, a node's `shape:`, a
    param's or buffer's), which holds in every configuration; None for list values and
    unannotated nodes."""
    dims = spec_dims(spec, name)
    if dims is None:
        return None
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def spec_dims(spec: Spec, name: str) -> list[str] | None:
    """The dims of spec_shape, each as written."""
    source = spec.sources().get(name)
    node = spec.nodes.get(name)
    owner = None if node is not None or source is not None else next(
        (n for n in spec.nodes.values() if n.out and name in n.out), None)
    if owner is not None and owner.shape and isinstance(owner.shape[0], list) and owner.out:
        dims = owner.shape[owner.out.index(name)]  # one of a node's `out:` tensors
    elif source is not None:
        dims = source.shape
    elif node is not None and isinstance(node.form, TensorDecl):
        dims = node.form.shape
    elif node is not None and not (node.out or isinstance(node.form, Repeat | Map)
                                   or is_list_op(node.form)):
        dims = node.shape
        if isinstance(node.form, Stack) and node.form.var is not None \
                and any(node.form.var in d.names for d in dims or ()):
            dims = None  # the shape each copy reads, not the value after the last
    else:
        dims = None
    if not dims:
        return None
    return [d.text for d in dims]


def holds_list(checked: Checked, name: str) -> bool:
    """Whether a tensor name holds a list of tensors: as checked, and for a node checked in
    no configuration (W102), as its form makes it."""
    if (info := checked.nodes.get(name)) is not None:
        return isinstance(info.output, list)
    if name in checked.inputs:  # a list input: its items' shapes
        return isinstance(checked.inputs[name], list)
    producer = checked.spec.nodes.get(name)
    return producer is not None and (isinstance(producer.form, Repeat | Map)
                                     or is_list_op(producer.form))


def is_list_op(form: NodeForm) -> bool:
    """An op of several outputs without `out:` (`split`, `chunk`): its value is a list."""
    return isinstance(form, FunctionOp) and ops.REGISTRY[form.op].multi_output
