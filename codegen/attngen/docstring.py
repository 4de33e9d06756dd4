"""The docstring of a generated class: what the module is, its constructor's arguments and
the shapes of its inputs and outputs, as the checker found them."""

from __future__ import annotations

import re

from .dims import fmt_shape, folded_names
from .names import FACTORY_PARAMS
from .pytext import doc_entry, doc_line, doc_text, literal
from .results import Checked, dtype_of, typed_text
from .shape_comments import spec_shape


def class_docstring(checked: Checked) -> str:
    """The generated class's docstring: title, paper, doc, Args (the params and the
    factory kwargs) and Shapes (inputs and outputs, as checked)."""
    spec = checked.spec
    parts = [doc_text(spec.title or spec.name) + "."]
    if spec.paper:
        parts.append("Paper: " + doc_text(spec.paper))
    if spec.doc:
        parts.append(doc_text(spec.doc))
    lines = ["Args:"]
    for p in spec.params.values():
        what = "required" if p.required else f"default {literal(p.default)}"
        extra = f"; one of {list(p.choices)}" if p.choices else ""
        doc = f": {doc_text(p.doc)}" if p.doc else ""
        lines.append(doc_entry(f"    {p.name} ({p.type}, {doc_line(what + extra)}){doc}"))
    lines.append(f"    {', '.join(FACTORY_PARAMS)} (keyword-only, default None): of every "
                 "parameter and buffer")
    parts.append("\n".join(lines))
    shapes = ["Shapes:"]
    for name, inp in spec.inputs.items():
        if inp.items:
            for item in inp.items:
                shown = checked.shape_text(item.name)
                if len(checked.configs) > 1:
                    shown = spec_shape(spec, item.name) or shown
                shapes.append(f"    {name}[{item.name}]: {shown}{_dtype(checked, item.name)}")
        else:
            opt = " (optional)" if inp.optional else ""
            shown = checked.shape_text(name)
            if len(checked.configs) > 1:
                shown = spec_shape(spec, name) or shown
            shapes.append(f"    {name}{opt}: {shown}{_dtype(checked, name)}")
    for name, size in spec.int_inputs.items():  # forward's ints: dims of the shapes above
        shapes.append(f"    {name}: int" + (f": {doc_text(size.doc)}" if size.doc else ""))
    for o in spec.outputs:
        when = f" (if {o.when.text})" if o.when is not None else ""
        if o.name in checked.outputs:
            value = checked.outputs[o.name]  # a list: each item with its own dtype
            shown = typed_text(value) if isinstance(value, list) else fmt_shape(value)
            if len(checked.configs) > 1:
                shown = spec_shape(spec, o.name) or shown
            shapes.append(f"    returns {o.name}{when}: {shown}{_dtype(checked, o.name)}")
    shapes += [f"    where {name} = {spec.lets[name].expr.text}"
               for name in _lets_read(shapes, checked)]
    parts.append("\n".join(doc_entry(doc_line(line)) for line in shapes))
    return "\n\n".join(parts)


def _lets_read(lines: list[str], checked: Checked) -> list[str]:
    """The lets whose names the shapes are written with (the folds emit's lets_shown put in
    effect), in the spec's order."""
    words = set(re.findall(r"\w+", "\n".join(lines[1:])))
    folded = folded_names()
    return [name for name in checked.spec.lets if name in folded and name in words]


def _dtype(checked: Checked, name: str) -> str:
    """` bool` after a tensor's shape where its dtype family is not float."""
    family = dtype_of(checked.value(name))
    return f" {family}" if family not in (None, "float") else ""
