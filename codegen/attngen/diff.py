"""`attngen diff A B`: what changed between two checked specs.

Nodes added, removed and changed (op, arguments, inputs, conditions), shapes that
changed for nodes in both (the checker's symbolic shapes), params, lets, inputs and
outputs, and the parameter count at the default (or example) values. No torch.
"""

from __future__ import annotations

from .counts import total
from .describe import definition, definition_text
from .model import IntInput, Node, Spec
from .results import LAYER, Checked


def _one_line(node: Node) -> str:
    sig = definition(node)
    text = definition_text(node)
    if sig.get("in"):
        text += f" <- {sig['in']}"
    if sig.get("when"):
        text += f" [when {sig['when']}]"
    return text


def _param(p) -> str:
    value = f"{p.example!r} (example, required)" if p.required else repr(p.default)
    extra = f", type {p.type}" + (f", choices {list(p.choices)}" if p.choices else "")
    return value + extra


def _input(inp) -> str:
    if isinstance(inp, IntInput):
        return "int"
    if inp.items is not None:
        return "[" + ", ".join(f"{i.name}: {_input(i)}" for i in inp.items) + "]"
    text = "[" + ", ".join(d.text for d in inp.shape) + "]"
    text += f" {inp.dtype}" if inp.dtype != "float" else ""
    return text + (" (optional)" if inp.optional else "")


def _shapes(checked: Checked) -> dict[str, str]:
    """Every tensor the checker saw: inputs, nodes and named outputs of split nodes."""
    out = {}
    for name in checked.inputs:
        out[name] = checked.shape_text(name)
    for name, info in checked.nodes.items():
        if isinstance(info.output, dict):
            for sub in info.output:
                out[sub] = checked.shape_text(sub)
        elif info.output is not LAYER and info.output is not None:  # a declared layer: none
            out[name] = checked.shape_text(name)
    return out


def _section(title: str, old: dict, new: dict, show) -> list[str]:
    def line(sign, name, value):
        text = show(value)
        return f"  {sign} {name}: {text}" if text else f"  {sign} {name}"

    lines = [line("-", name, old[name]) for name in old if name not in new]
    for name, value in new.items():
        if name not in old:
            lines.append(line("+", name, value))
        elif show(old[name]) != show(value):
            lines.append(f"  ~ {name}: {show(old[name])} -> {show(value)}")
    return [f"{title}:", *lines] if lines else []


def diff_lines(a: Checked, b: Checked) -> list[str]:
    sa, sb = a.spec, b.spec
    lines = [f"--- {sa.file} ({sa.name})", f"+++ {sb.file} ({sb.name})"]
    for key in ("name", "title", "paper"):
        if getattr(sa, key) != getattr(sb, key):
            lines.append(f"{key}: {getattr(sa, key)!r} -> {getattr(sb, key)!r}")
    lines += _section("params", sa.params, sb.params, _param)
    lines += _section("lets", sa.lets, sb.lets, lambda let: let.expr.text)
    lines += _section("requires", {r.text: r for r in sa.requires},
                      {r.text: r for r in sb.requires}, lambda r: "")
    lines += _section("inputs", {**sa.inputs, **sa.int_inputs}, {**sb.inputs, **sb.int_inputs},
                      _input)
    lines += _nodes(sa, sb)
    lines += _shape_changes(a, b)
    outs = [_outputs(sa), _outputs(sb)]
    if outs[0] != outs[1]:
        lines.append(f"outputs: {outs[0]} -> {outs[1]}")
    na, nb = total(sa), total(sb)
    lines.append(f"parameters at the defaults: {na:,} -> {nb:,} ({nb - na:+,})")
    return lines


def _outputs(spec: Spec) -> str:
    return ", ".join(o.name + (f" [when {o.when.text}]" if o.when else "")
                     for o in spec.outputs)


def _nodes(sa: Spec, sb: Spec) -> list[str]:
    lines = []
    for name, node in sa.nodes.items():
        if name not in sb.nodes:
            lines.append(f"  - {name}: {_one_line(node)}")
    for name, node in sb.nodes.items():
        if name not in sa.nodes:
            lines.append(f"  + {name}: {_one_line(node)}")
            continue
        old, new = definition(sa.nodes[name]), definition(node)
        for key in dict.fromkeys([*old, *new]):
            if old.get(key, "") != new.get(key, ""):
                lines.append(f"  ~ {name}: {key}: {old.get(key) or '(none)'} -> "
                             f"{new.get(key) or '(none)'}")
    return ["nodes:", *lines] if lines else []


def _shape_changes(a: Checked, b: Checked) -> list[str]:
    old, new = _shapes(a), _shapes(b)
    lines = [f"  ~ {name}: {old[name]} -> {new[name]}"
             for name in new if name in old and old[name] != new[name]]
    return ["shapes:", *lines] if lines else []


__all__ = ["diff_lines"]
