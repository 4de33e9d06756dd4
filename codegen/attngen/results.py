"""What the shape checker found: each node's shapes, the inputs', the outputs'."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dims import fmt_shape
from .model import Spec

LAYER = object()  # the value of a layer node declared without `in:`


@dataclass
class NodeShapes:
    """What the checker learned about one node (in the first configuration that has it)."""

    inputs: list  # shapes of its inputs
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

    def shape_text(self, name: str) -> str:
        if name in self.inputs:
            return fmt_shape(self.inputs[name])
        for info in self.nodes.values():
            if isinstance(info.output, dict) and name in info.output:
                return fmt_shape(info.output[name])
        return fmt_shape(self.nodes[name].output)

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
