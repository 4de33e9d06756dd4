"""What the shape checker found: each node's shapes and dtypes, the inputs', the outputs'."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dims import fmt_shape
from .model import Spec

LAYER = object()  # the value of a layer node declared without `in:`


class TensorType(tuple):
    """A tensor value as the checker knows it: its shape (this tuple of dims) and its dtype
    family (ops.DTYPES: bool, int, float, complex). Compares and prints as its shape."""

    dtype: str

    def __new__(cls, dims=(), dtype: str = "float"):
        self = super().__new__(cls, dims)
        self.dtype = dtype
        return self

    def __reduce__(self):
        return (TensorType, (tuple(self), self.dtype))


def dtype_of(value) -> str | None:
    """The dtype family of a checked tensor value; None for anything else (a list of
    tensors, an absent optional input, a layer)."""
    return value.dtype if isinstance(value, TensorType) else None


def typed_text(value) -> str:
    """A value's shape with its dtype family unless that is float: `(B, h, nq, nk) bool`."""
    if value is None:
        return "None"
    family = dtype_of(value)
    return fmt_shape(value) + (f" {family}" if family not in (None, "float") else "")


@dataclass
class NodeShapes:
    """What the checker learned about one node (in the first configuration that has it)."""

    inputs: list  # shapes of its inputs (TensorType: with their dtypes)
    output: object  # shape, list of shapes (list value) or dict out-name -> shape
    config: dict  # the configuration it was seen in


@dataclass
class Checked:
    spec: Spec
    order: list[str]
    configs: list[dict]
    nodes: dict[str, NodeShapes] = field(default_factory=dict)
    inputs: dict[str, tuple] = field(default_factory=dict)
    outputs: dict[str, object] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)  # dim name -> where it was bound
    subs: dict[str, Checked] = field(default_factory=dict)

    def shape_text(self, name: str, *, dtype: bool = False) -> str:
        """A tensor's shape as printers show it; with `dtype`, followed by its dtype family
        unless that is float (`(B, h, nq, nk) bool`)."""
        value = self.value(name)
        return typed_text(value) if dtype else fmt_shape(value)

    def value(self, name: str):
        """What the checker found for a tensor name: an input's, a node's, one output's."""
        if name in self.inputs:
            return self.inputs[name]
        for info in self.nodes.values():
            if isinstance(info.output, dict) and name in info.output:
                return info.output[name]
        return self.nodes[name].output

    def all_subs(self) -> list[Checked]:
        """Sub-spec results, dependencies first, each class once."""
        out: dict[str, Checked] = {}

        def visit(c: Checked) -> None:
            for sub in c.subs.values():
                visit(sub)
                out.setdefault(sub.spec.name, sub)

        visit(self)
        return list(out.values())
