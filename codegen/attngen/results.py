"""What the shape checker found: each node's shapes and dtypes, the inputs', the outputs'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from .dims import fmt_items, fmt_shape
from .errors import Diagnostic
from .model import Node, Spec, cases_of
from .ops.ctx import Dim, Shape

if TYPE_CHECKING:  # Python 3.11 has typing.Self
    from typing_extensions import Self

LAYER = object()  # the value of a layer node declared without `in:`
# The shape of a value: a tuple of dims, or a list of them for a list of tensors.
ValueShape: TypeAlias = "Shape | list[Shape]"


class TensorType(tuple):
    """A tensor value as the checker knows it: its shape (this tuple of dims) and its dtype
    family (ops.DTYPES: bool, int, float, complex). Compares and prints as its shape."""

    dtype: str

    def __new__(cls, dims: Iterable[Dim] = (), dtype: str = "float") -> Self:
        self = super().__new__(cls, dims)
        self.dtype = dtype
        return self

    def __reduce__(self) -> tuple[type[TensorType], tuple[tuple[Dim, ...], str]]:
        return (TensorType, (tuple(self), self.dtype))


def dtype_of(value: object) -> str | None:
    """The dtype family of a checked tensor value; None for anything else (a list of
    tensors, an absent optional input, a layer)."""
    return value.dtype if isinstance(value, TensorType) else None


def with_dtypes(shapes, typed):
    """Shapes in an annotation's terms (the checker's unify) with the dtypes of `typed`,
    the inferred values they replace (a shape, a list of shapes)."""
    if isinstance(shapes, list):
        return [with_dtypes(s, t) for s, t in zip(shapes, typed, strict=False)]
    dtype = dtype_of(typed)
    return TensorType(shapes, dtype) if dtype is not None else shapes


def typed_text(value: ValueShape | None) -> str:
    """A value's shape with its dtype family unless that is float: `(B, h, nq, nk) bool`."""
    if value is None:
        return "None"
    if isinstance(value, list):  # each with its own family (topk's values, int indices)
        return fmt_items([typed_text(v) for v in value])
    family = dtype_of(value)
    return fmt_shape(value) + (f" {family}" if family not in (None, "float") else "")


@dataclass
class NodeShapes:
    """What the checker learned about one node (in the first configuration that has it)."""

    # shapes of its inputs (TensorType: with their dtypes; None: an optional one not given)
    inputs: list[ValueShape | None]
    output: ValueShape | dict[str, ValueShape]  # a dict out-name -> shape for several outputs
    config: dict[str, object]  # the configuration it was seen in


@dataclass
class Checked:
    spec: Spec
    order: list[str]
    configs: list[dict[str, object]]
    nodes: dict[str, NodeShapes] = field(default_factory=dict)
    inputs: dict[str, Shape] = field(default_factory=dict)
    outputs: dict[str, ValueShape] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)  # dim name -> where it was bound
    subs: dict[str, Checked] = field(default_factory=dict)
    # a `cases` node's case (node name, its index) -> its shapes, in the first
    # configuration that takes it
    case_shapes: dict[tuple[str, int], NodeShapes] = field(default_factory=dict)
    # the nodes and cases whose shapes another configuration found otherwise
    varying: set[str | tuple[str, int]] = field(default_factory=set)
    # a node or case -> the inputs (their indices) whose shape its output has in every
    # configuration (an elementwise op's: its comment shows such an input's written shape)
    keeps: dict[str | tuple[str, int], set[int]] = field(default_factory=dict)
    # the `view` nodes that merge dims in some configuration (strides.py)
    merging_views: set[str] = field(default_factory=set)
    warnings: list[Diagnostic] = field(default_factory=list)  # its own (lint.py), not subs'
    # emit.render's class source by its options: a sub-spec's class is made once per build,
    # not once per file that includes it
    emitted: dict[tuple[bool, bool], tuple[str, dict[str, bool], bool]] = field(
        default_factory=dict, repr=False, compare=False)

    def shape_text(self, name: str, *, dtype: bool = False) -> str:
        """A tensor's shape as printers show it; with `dtype`, followed by its dtype family
        unless that is float (`(B, h, nq, nk) bool`)."""
        value = self.value(name)
        return typed_text(value) if dtype else fmt_shape(value)

    def value(self, name: str) -> ValueShape:
        """What the checker found for a tensor name: an input's, a node's, one output's."""
        if name in self.inputs:
            return self.inputs[name]
        for info in self.nodes.values():
            if isinstance(info.output, dict) and name in info.output:
                return info.output[name]
        output = self.nodes[name].output
        if not isinstance(output, dict):
            return output
        raise ValueError(several_outputs(name, output))  # each output has a shape, not the node

    def note(self, node: Node, body: Node, shapes: NodeShapes) -> None:
        """Record what one configuration found for a node (`body`: it or the case taken),
        where none was recorded yet."""
        self._note(self.nodes, node.name, shapes)
        if body is not node:
            index = next(i for i, case in enumerate(cases_of(node)) if case is body)
            self._note(self.case_shapes, (node.name, index), shapes)

    def _note(self, record: dict, key, shapes: NodeShapes) -> None:
        seen = record.setdefault(key, shapes)
        same = {i for i, s in enumerate(shapes.inputs)
                if isinstance(s, tuple) and s == shapes.output}
        self.keeps[key] = self.keeps.get(key, same) & same
        if seen is not shapes and (seen.inputs, seen.output) != (shapes.inputs, shapes.output):
            self.varying.add(key)

    def shapes_of(self, node: Node, body: Node) -> tuple[NodeShapes, bool]:
        """What was recorded for a node, or for one of its cases where `body` is one, and
        whether another configuration found other shapes there."""
        for i, case in enumerate(cases_of(node)):
            if case is body and (node.name, i) in self.case_shapes:
                return self.case_shapes[node.name, i], (node.name, i) in self.varying
        return self.nodes[node.name], node.name in self.varying

    def shape(self, name: str) -> tuple | None:
        """A tensor's shape as checked; None for a list or a name not recorded."""
        info = self.nodes.get(name)
        value = info.output if info is not None else self.inputs.get(name)
        if value is None:  # one output of a node that has several (value() scans for it)
            try:
                value = self.value(name)
            except (KeyError, ValueError):
                return None
        return tuple(value) if isinstance(value, tuple) else None

    def all_subs(self) -> list[Checked]:
        """Sub-spec results, dependencies first, each class once."""
        out: dict[str, Checked] = {}

        def visit(c: Checked) -> None:
            for sub in c.subs.values():
                if sub.spec.name not in out:  # each once: a chain of specs shares them
                    visit(sub)
                    out[sub.spec.name] = sub

        visit(self)
        return list(out.values())


def several_outputs(name: str, outputs: dict[str, ValueShape]) -> str:
    """The message for asking a node with several outputs for its one shape."""
    return f"'{name}' has several outputs ({', '.join(outputs)}); ask for one of them"
