"""How emitted code names what a spec names: a param, a let, a dim or a loop variable
becomes the source text __init__ or forward reads it by (emit.py, emit_stack.py); a dim
forward reads is unpacked from the shape of the tensor that binds it."""

from __future__ import annotations

from .comparisons import constant_last
from .expr import Expr
from .graph import annotation_dims, forward_names, param_attribute
from .model import Map, Repeat, Spec


class Namer:
    """Spec names -> Python source, for __init__ or forward; records what forward reads."""

    def __init__(self, spec: Spec, where: str, dims: set[str] | None = None,
                 owner: Spec | None = None):
        self.spec, self.where = spec, where
        self.owner = owner or spec  # the class whose attributes hold the params (a loop
        #                             body's are its parent's)
        self.dims = dims or set()
        self.loop: set[str] = set()
        self.used_params: set[str] = set()
        self.used_dims: set[str] = set()

    def __call__(self, name: str) -> str:
        if name in self.loop:
            return name
        if name in self.spec.lets:
            return f"self.{name}"
        if name in self.spec.params:
            if self.where == "init":
                return name
            self.used_params.add(name)
            return f"self.{param_attribute(self.owner, name)}"
        self.used_dims.add(name)
        return name


def src(expr: Expr, namer: Namer) -> str:
    return constant_last(expr.python(namer))  # `self.n == N`, as ruff wants it


def unpack_target(names: list[str]) -> str:
    """The target of `B, C, _, _ = x.shape` (`(N,) = x.shape` for one dim: `N = x.shape`
    would bind the Size)."""
    return ", ".join(names) if len(names) > 1 else f"({names[0]},)"


def shape_unpacks(spec: Spec, order: list[str]) -> dict[str, list[tuple[list[str], str]]]:
    """The dims forward reads that a node's `shape:` binds (graph.annotation_dims:
    `y: {..., shape: [B, c, Hk, Wk]}` then `fill_value: 1 / Hk`): by node, the (names,
    tensor) of each `_, _, Hk, Wk = y.shape` to write after it (a list's are E402)."""
    read = forward_names(spec)
    targets: dict[tuple[str, str], list[str]] = {}
    for bound in annotation_dims(spec, order):
        if bound.name in read and not isinstance(spec.nodes[bound.node].form, Repeat | Map):
            names = targets.setdefault((bound.node, bound.tensor), ["_"] * bound.rank)
            names[bound.axis] = bound.name
    out: dict[str, list[tuple[list[str], str]]] = {}
    for (node, tensor), names in targets.items():
        out.setdefault(node, []).append((names, tensor))
    return out
