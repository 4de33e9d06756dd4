"""The op library: the extension point of attngen.

An op is one `Op` value registered here. It declares its arguments (in PyTorch's
order, each with a type and optional range), how generated code calls it (a layer
constructor, a Jinja template or an emit hook for a tensor function), its shape rule
(sympy), its dtype rule, its parameter count and its diagram group. Adding an op is one
`register(Op(...))` call in a family module (layers.py, tensor.py), and, for a new colour
in diagrams, one `add_group(Group(...))` beside it; its shape rule is written against
ShapeCtx (ctx.py). `attngen docs` writes the library as docs/ops.md, with an example.
Nothing is looked up with eval, globals or imports: the registry is a dict.
"""

from __future__ import annotations

from . import layers, tensor  # noqa: F401  (registers the ops)
from .base import (
    ANY_DTYPE,
    ARG_TYPES,
    DTYPES,
    FLOAT_ONLY,
    GROUPS,
    REGISTRY,
    REQUIRED,
    Arg,
    CallSite,
    Dtypes,
    Group,
    Op,
    add_group,
    register,
)
from .ctx import ShapeCtx, ShapeFail

__all__ = ["ANY_DTYPE", "ARG_TYPES", "DTYPES", "FLOAT_ONLY", "GROUPS", "REGISTRY", "REQUIRED",
           "Arg", "CallSite", "Dtypes", "Group", "Op", "ShapeCtx", "ShapeFail", "add_group",
           "register"]
