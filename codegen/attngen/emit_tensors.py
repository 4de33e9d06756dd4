"""`param:` and `buffer:` nodes as __init__ source: an nn.Parameter or a registered buffer,
made by a torch factory function (`torch.zeros(1)`), or made empty and filled by the
nn.init function of its initialiser (`nn.init.normal_(self.pos, std=0.02)`)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import cast

from .expr import Expr
from .expr_source import torch_source
from .model import TensorDecl
from .names import FACTORY_PARAMS

TORCH_DTYPES = {"bool": "torch.bool", "long": "torch.long"}  # float: the default dtype
# initialisers written as one factory call when they are given no options
PLAIN_FACTORIES = {"zeros": "torch.zeros", "ones": "torch.ones", "normal": "torch.randn",
                   "uniform": "torch.rand"}


def factory(func: str, args: list[str], dtype: str, factory_kwargs: Callable[[], str]) -> str:
    """One call of a torch factory function (`torch.zeros(n, d, **factory_kwargs)`): the one
    place that writes a made tensor's keyword arguments. A float tensor takes the module's
    device and dtype (`factory_kwargs` gives the argument that passes them); a bool or long
    one keeps its dtype and takes the device."""
    if dtype in TORCH_DTYPES:
        keywords = [f"dtype={TORCH_DTYPES[dtype]}", f"device={FACTORY_PARAMS[0]}"]
    else:
        keywords = [factory_kwargs()]
    return f"{func}({', '.join([*args, *keywords])})"


def tensor_lines(name: str, decl: TensorDecl, text: Callable[[Expr], str],
                 factory_kwargs: Callable[[], str]) -> list[str]:
    """The __init__ lines that make the tensor of node `name`; `text` writes a dim,
    `factory_kwargs` the argument that passes the module's device and dtype on."""
    dims = [text(d) for d in decl.shape]
    lines: list[str] = []  # what the making needs first (a formula's index grids)
    fill: list[str] = []
    if decl.init == "formula":
        lines, made = _formula(decl, dims, text)
    else:
        made, fill = _made(decl, dims, text, factory_kwargs)
    if decl.kind == "param":
        lines.append(f"self.{name} = nn.Parameter({made})")
    else:
        saved = "" if decl.persistent else ", persistent=False"
        lines.append(f'self.register_buffer("{name}", {made}{saved})')
    lines += [line.replace("TENSOR", f"self.{name}") for line in fill]
    return lines


def _formula(decl: TensorDecl, dims: list[str], text: Callable[[Expr], str]
             ) -> tuple[list[str], str]:
    """`init: formula`: (the lines that make the index of each dim a float64 tensor, by
    torch.meshgrid of aranges; the formula over them, expr_source.torch_source, cast to
    the module's dtype). float64 holds every index exactly: bfloat16 holds none above
    256, float16 none above 2048, float32 none above 2 ** 24."""
    formula, index = cast(Expr, decl.options["formula"]), cast(tuple, decl.options["index"])
    names = [n.text for n in index]
    device, dtype = FACTORY_PARAMS
    ranges = [f"torch.arange({d}, device={device}, dtype=torch.float64)" for d in dims]
    lines = ["# the index in float64 (exact at any size), the values in the tensor's dtype"]
    if len(names) == 1:
        lines.append(f"{names[0]} = {ranges[0]}")
    else:
        lines.append(f"{', '.join(names)} = torch.meshgrid({', '.join(ranges)}, "
                     "indexing=\"ij\")")
    # the names other than the index's as __init__ reads them (`text` writes an Expr)
    rename = lambda n: text(Expr(n, ast.Name(n, ast.Load()), formula.loc))  # noqa: E731
    made = torch_source(ast.parse(formula.text, mode="eval").body, tuple(names), rename)
    to = TORCH_DTYPES.get(decl.dtype, f"{dtype} or torch.get_default_dtype()")
    return lines, f"torch.as_tensor({made}, dtype={to})"


def _made(decl: TensorDecl, dims: list[str], text: Callable[[Expr], str],
          kwargs: Callable[[], str]) -> tuple[str, list[str]]:
    """(the expression that makes the tensor, the nn.init lines that fill it); an
    option that is an expression is written by `text`, as the dims are."""
    init, options, dtype = decl.init, decl.options, decl.dtype
    if init in PLAIN_FACTORIES and not options:
        return factory(PLAIN_FACTORIES[init], dims, dtype, kwargs), []
    if init == "constant":
        value = options.get("value", 0.0)
        assert not isinstance(value, tuple)
        if isinstance(value, Expr):  # an int would make a long tensor where dtype is None
            shown = text(value) if dtype == "long" else f"float({text(value)})"
        else:
            shown = repr(int(value)) if dtype == "long" else repr(float(value))
        size = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
        return factory("torch.full", [size, shown], dtype, kwargs), []
    if init == "relative_position":  # the file's helper (templates/module.py.j2)
        window = [text(size) for size in cast(tuple, options["window"])]
        sizes = f"({window[0]},)" if len(window) == 1 else f"({', '.join(window)})"
        return f"_relative_position_index({sizes}, device={FACTORY_PARAMS[0]})", []
    if init == "eye":
        return factory("torch.eye", dims[:1] if dims[0] == dims[1] else dims, dtype, kwargs), []
    if init == "arange":  # a float end makes floats (of the dtype given, else the default)
        end = dims[0] if dtype != "float" else f"float({dims[0]})"
        return factory("torch.arange", [end], dtype, kwargs), []
    keywords = [f"{k}={text(v)}" if isinstance(v, Expr) else
                f'{k}="{v}"' if isinstance(v, str) else f"{k}={v!r}"
                for k, v in options.items() if k != "slices"]
    slices = options.get("slices")
    if slices is None:
        fill = [f"nn.init.{init}_({', '.join(['TENSOR', *keywords])})"]
    else:  # each slice on its own, its fans a slice's (views: the tensor is filled in place)
        assert isinstance(slices, int)
        sliced = "TENSOR" if slices == 1 else f"TENSOR.flatten(0, {slices - 1})"
        # `_part`: no param (the locals of __init__) may start with '_'
        fill = ["# each slice on its own: its fans are a slice's", f"for _part in {sliced}:",
                f"    nn.init.{init}_({', '.join(['_part', *keywords])})"]
    return factory("torch.empty", dims, dtype, kwargs), fill
