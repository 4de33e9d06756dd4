"""The op library: the extension point of attngen.

An op is one `Op` value registered here. It declares its arguments (in PyTorch's
order), how it is written in generated code (a layer constructor, or a Jinja
template for a tensor function), its shape rule (sympy), its parameter count and
its diagram group. Adding an op is one `register(Op(...))` call in a family module;
its shape rule is written against ShapeCtx (ctx.py).
Nothing is looked up with eval, globals or imports: the registry is a dict.
"""

from __future__ import annotations

from . import layers, tensor  # noqa: F401  (registers the ops)
from .base import REGISTRY, REQUIRED, Arg, Op, register
from .ctx import ShapeCtx, ShapeFail

__all__ = ["REGISTRY", "REQUIRED", "Arg", "Op", "ShapeCtx", "ShapeFail", "register"]
