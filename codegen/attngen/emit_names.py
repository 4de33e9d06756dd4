"""How emitted code names what a spec names: a param, a let, a dim or a loop variable
becomes the source text __init__ or forward reads it by (emit.py, emit_stack.py)."""

from __future__ import annotations

from .comparisons import constant_last
from .expr import Expr
from .graph import param_attribute
from .model import Spec


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
