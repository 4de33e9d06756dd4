"""What the shape checker found: each node's shapes, the inputs', the outputs'."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from .dims import fmt_shape
from .model import Spec
from .ops.ctx import Shape

LAYER = object()  # the value of a layer node declared without `in:`
# The shape of a value: a tuple of dims, or a list of them for a list of tensors.
ValueShape: TypeAlias = "Shape | list[Shape]"


@dataclass
class NodeShapes:
    """What the checker learned about one node (in the first configuration that has it)."""

    inputs: list[ValueShape | None]  # shapes of its inputs (None: an optional one not given)
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

    def shape_text(self, name: str) -> str:
        if name in self.inputs:
            return fmt_shape(self.inputs[name])
        for info in self.nodes.values():
            if isinstance(info.output, dict) and name in info.output:
                return fmt_shape(info.output[name])
        output = self.nodes[name].output
        if not isinstance(output, dict):
            return fmt_shape(output)
        raise ValueError(several_outputs(name, output))  # each output has a shape, not the node

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
