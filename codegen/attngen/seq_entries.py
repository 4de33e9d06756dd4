"""The entries of a generated `nn.Sequential`: a `seq:` layer with its `each` and `when`.

A list seq flattens a repeated layer into the Sequential (`*[... for i in range(n)]`) and
leaves out a layer whose `when` fails, so the layers after it number on, as
`nn.Sequential(*layers)` built by hand does; a named seq holds the copies in an inner
Sequential under the layer's name, and an `nn.Identity()` (no state) where the condition
fails.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from .expr import Expr
from .model import Item, LayerOp, SubSpec


def seq_entry(item: Item, named: bool, layer: Callable[[LayerOp | SubSpec], str],
              source: Callable[[Expr], str], loop: set[str]) -> str:
    """One entry of the Sequential's constructor call; `layer` writes a layer's constructor,
    `source` an expression, and `loop` holds the loop variables in scope (names written as
    they are)."""
    each = item.each
    if item.key:  # a key per copy: `**{f"fc1_{i}": layer for i in range(depth)}`
        key = "".join(p if isinstance(p, str) else "{" + source(p) + "}" for p in item.key)
        var = each.var or "_" if each is not None else None
        if var is not None:
            loop.add(var)
        text = f'{{f"{key}": {layer(item.form)}' + (
            f" for {var} in {source(each.iterable)}}}" if each is not None else "}")
        loop.discard(var or "")
        if item.when is not None:
            return f"**({text} if {source(item.when)} else {{}})"
        return f"**{text}"
    if each is None:
        text = layer(item.form)
    else:
        var = each.var or "_"
        loop.add(var)
        text = f"[{layer(item.form)} for {var} in {source(each.iterable)}]"
        loop.discard(var)
        text = f"nn.Sequential(*{text})" if named else text
    if item.when is not None:
        cond = source(item.when)
        if named:
            return f"{operand(text)} if {cond} else nn.Identity()"
        return f"*({text if each is not None else f'[{text}]'} if {cond} else [])"
    return f"*{text}" if each is not None and not named else text


def operand(text: str) -> str:
    """Source text as an operand of a conditional expression: parenthesized if it is one
    itself, or a lambda."""
    tree = ast.parse(text, mode="eval").body
    return f"({text})" if isinstance(tree, (ast.IfExp, ast.Lambda, ast.NamedExpr)) else text
