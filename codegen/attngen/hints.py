"""Type hints of generated code and the `def` lines that carry them: constructor parameters
from their spec types, forward's inputs and results from what the checker found.

Generated code imports nothing but torch, so no hint needs an import: `any` is `object`
(typing.Any would need one), a sequence is `list[...] | tuple[...]` (not
collections.abc.Sequence).
"""

from __future__ import annotations

from .layout import WIDTH
from .model import Input, IntInput, Param
from .results import Checked

# The constructor's keyword-only factory kwargs, after the spec's params (torch.nn's names;
# names.FACTORY_PARAMS reserves them)
FACTORY_HINTS = ("device: torch.device | str | None = None", "dtype: torch.dtype | None = None")


def param_hint(p: Param) -> str:
    """A constructor parameter's annotation, from its spec type.

    A list param holds numbers: its items are `int` when every value of its default (or
    example) is an int, else `float` (which accepts ints). Its default is written as a
    tuple (pytext.literal), while callers pass lists as often as tuples; so the hint
    accepts both, `list[int] | tuple[int, ...]`. A None default adds `| None` to a known
    type.
    """
    if p.type == "any":
        return "object"
    if p.type == "list":
        values = p.sample if isinstance(p.sample, list | tuple) else []
        item = "int" if values and all(type(v) is int for v in values) else "float"
        hint = f"list[{item}] | tuple[{item}, ...]"
    else:
        hint = p.type
    return f"{hint} | None" if p.default is None else hint


def input_hint(inp: Input | IntInput) -> str:
    """A forward input's annotation: a tensor, or a list of them; `| None` if optional; an
    int input's `int`."""
    if isinstance(inp, IntInput):
        return "int"
    hint = "list[torch.Tensor]" if inp.items is not None else "torch.Tensor"
    return f"{hint} | None" if inp.optional else hint


def value_hint(value: object) -> str | None:
    """The annotation of a checked value: a shape is a tensor, a list of shapes a list."""
    if isinstance(value, tuple):
        return "torch.Tensor"
    if isinstance(value, list):
        return "list[torch.Tensor]"
    return None


def return_hint(checked: Checked, returns: list[list[str]]) -> str | None:
    """forward's return annotation, given the output names of each of its return
    statements: a tensor, a list or tuple of them, or a union of those where outputs
    depend on `when:`; None where an output's kind is unknown."""
    hints: list[str] = []
    for names in returns:
        items = [h for n in names if (h := value_hint(checked.outputs.get(n)))]
        if not names or len(items) < len(names):
            return None
        if checked.spec.output_form == "list":
            hint = f"list[{' | '.join(dict.fromkeys(items))}]"
        else:
            hint = items[0] if len(items) == 1 else f"tuple[{', '.join(items)}]"
        if hint not in hints:
            hints.append(hint)
    return " | ".join(hints)


def def_line(name: str, params: list[str], returns: str | None) -> str:
    """A method's `def` line, as one logical line; a trailing comma puts one parameter per
    line when the signature does not fit on one (as ruff format keeps a "magic" trailing
    comma)."""
    arrow = f" -> {returns}" if returns else ""
    line = f"def {name}({', '.join(['self', *params])}){arrow}:"
    if 4 + len(line) > WIDTH and params:
        line = f"def {name}({', '.join(['self', *params])},){arrow}:"
    return line
