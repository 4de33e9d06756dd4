"""Op and Arg declarations and the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .ctx import Shape, ShapeCtx

REQUIRED = object()

# Diagram groups: every op belongs to one, and each group has one colour.
GROUPS = ("conv", "linear", "norm", "pool", "activation", "reshape", "arith", "attention",
          "resample", "regularize", "module")


@dataclass(frozen=True)
class Arg:
    name: str
    default: object = REQUIRED  # Python value; REQUIRED for a positional argument
    kind: str = "expr"  # expr | str | shape
    choices: tuple = ()
    low: float | None = None  # inclusive bounds on the value (each element of a tuple),
    high: float | None = None  # checked at the default sizes; None: unbounded

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Op:
    name: str
    group: str
    args: tuple[Arg, ...]
    # the shape rule (ctx.py): rule(ctx, input shapes, args) -> the output shape, or a list of
    # shapes for several outputs
    shape: Callable[[ShapeCtx, list[Shape], dict[str, Any]], Shape | list[Shape]]
    rule: str  # the shape rule in words, shown in errors and docs
    summary: str
    module: bool = False  # a layer: owned by the module as an attribute
    torch: str = ""  # layer constructor, e.g. "nn.Conv2d"
    call: str = ""  # tensor function: Jinja template of the call expression
    arity: tuple[int, int] = (1, 1)  # min, max tensor inputs (max -1: any)
    list_input: bool = False  # accepts one list-valued input (cat, stack, add)
    multi_output: bool = False  # needs `out: [a, b, ...]`
    params: Callable | None = None  # concrete args -> number of parameters
    key_args: tuple[str, ...] = field(default=())  # shown in diagram boxes

    def arg(self, name: str) -> Arg:
        for a in self.args:
            if a.name == name:
                return a
        raise KeyError(name)


REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    assert op.name not in REGISTRY, f"op {op.name} registered twice"
    assert op.group in GROUPS, op.group
    assert op.module == bool(op.torch) and op.module != bool(op.call), op.name
    REGISTRY[op.name] = op
    return op
