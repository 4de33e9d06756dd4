"""The op library: the extension point of attngen.

An op is one `Op` value registered here. It declares its arguments (in PyTorch's
order, each with a type and optional range), how generated code calls it (a layer
constructor, a Jinja template or an emit hook for a tensor function), its shape rule
(sympy), its dtype rule, its parameter count and its diagram group. Adding an op is one
`register(Op(...))` call in a family module (layers.py, tensor.py, shaping.py, ...), and,
for a new colour in diagrams, one `add_group(Group(...))` beside it; its shape rule is
written against ShapeCtx (ctx.py). `attngen docs` writes the library as docs/ops.md, with
an example.
Installed packages add ops through the `attngen.ops` entry-point group (plugins.py),
loaded the first time the registry is read. Nothing is looked up with eval or globals,
and only installed code is imported: a spec names ops by key.
"""

from __future__ import annotations

# the built-in families register their ops on import; plugins load on the registry's first read
from . import (  # noqa: F401
    attention,
    constants,
    convolution,
    einsum,
    elementwise,
    embedding,
    fft,
    layers,
    norms,
    plugins,
    rearrange,
    reductions,
    resolution,
    sampling,
    selection,
    shaping,
    stochastic,
    tensor,
)
from .base import (
    ANY_DTYPE,
    ARG_TYPES,
    BUILTIN,
    DTYPES,
    FLOAT_ONLY,
    FRESH,
    GROUPS,
    KEEPS,
    LAYOUTS,
    REGISTRY,
    REQUIRED,
    STRIDED,
    Arg,
    CallSite,
    Dtypes,
    Group,
    Op,
    PluginError,
    Registry,
    add_group,
    register,
)
from .ctx import ShapeCtx, ShapeFail

__all__ = ["ANY_DTYPE", "ARG_TYPES", "BUILTIN", "DTYPES", "FLOAT_ONLY", "FRESH", "GROUPS", "KEEPS",
           "LAYOUTS", "REGISTRY", "REQUIRED", "STRIDED", "Arg", "CallSite", "Dtypes", "Group",
           "Op", "PluginError", "Registry", "ShapeCtx", "ShapeFail", "add_group", "register"]
