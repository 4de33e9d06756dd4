"""Diagrams: Graphviz DOT (rendered to SVG by render.py) and a terminal flow chart.

One box per node with its op and key arguments, the tensor shape on every edge,
the parameter count of each parametrised node, sub-modules as labelled clusters.
Colours are by op group, so every diagram uses the same visual language.
"""

from __future__ import annotations

import html

from . import ops
from .params import node_params, param_values
from .shapes import Checked, fmt_shape
from .spec import Node

# fill, border per op group (colour-blind-safe pastel pairs)
COLOURS = {
    "conv": ("#dbe9f6", "#4a7fb5"), "linear": ("#dbe9f6", "#4a7fb5"),
    "norm": ("#e8e1f3", "#7b62a8"), "pool": ("#dff0e0", "#4f9a57"),
    "activation": ("#fde8cf", "#c7771e"), "reshape": ("#eeeeee", "#7d7d7d"),
    "arith": ("#fbe0e0", "#b84c4c"), "attention": ("#fbe0e0", "#b84c4c"),
    "resample": ("#dff0e0", "#4f9a57"), "regularize": ("#eeeeee", "#7d7d7d"),
    "module": ("#ffffff", "#333333"), "input": ("#ffffff", "#333333"),
}
LEGEND = (("conv", "conv / linear"), ("pool", "pooling / resampling"),
          ("activation", "activation / gate"), ("reshape", "tensor reshaping"),
          ("arith", "arithmetic / attention"), ("norm", "normalisation"))
FONT = "Helvetica"


def _h(text) -> str:
    return html.escape(str(text), quote=True)


def key_args(node: Node) -> str:
    """`Conv1d(1, 1, k=3)`-style summary of what a node does."""
    if node.apply is not None:
        return f"{node.apply.name} (shared weights)"
    if node.cases is not None:
        return "one of: " + ", ".join(key_args(c) for c in node.cases)
    if node.seq is not None:
        return " → ".join(_item_label(i.op or i.spec.name, i.args, i.op) for i in node.seq)
    label = _item_label(node.op or node.spec.name, node.args, node.op)
    if node.each is not None:
        var = f"{node.each_var} in " if node.each_var else ""
        label = f"[{label} for {var}{node.each.text}]"
    if node.map:
        label = f"map {label}"
    return label


def _item_label(name: str, args: dict, op_name: str | None) -> str:
    if op_name:
        op = ops.REGISTRY[op_name]
        shown = [args[a].text for a in op.key_args if a in args]
        if not op.key_args:
            shown = [e.text for e in args.values()]
    else:
        shown = [f"{k}={e.text}" for k, e in args.items()]
    text = f"{name}({', '.join(shown)})"
    return text if len(text) <= 60 else text[:57] + "...)"


def _group(node: Node) -> str:
    if node.op:
        return ops.REGISTRY[node.op].group
    if node.seq is not None:
        first = next((i.op for i in node.seq if i.op), None)
        return ops.REGISTRY[first].group if first else "module"
    if node.cases is not None:
        return "module"
    if node.apply is not None:
        return "module"
    return "module"


class _Dot:
    def __init__(self, rankdir: str, collapse: bool):
        self.lines: list[str] = []
        self.rankdir, self.collapse = rankdir, collapse

    def box(self, ident: str, title: str, detail: str, group: str, params: int, indent: str):
        fill, border = COLOURS[group]
        rows = [f"<b>{_h(title)}</b>", f'<font point-size="10">{_h(detail)}</font>']
        if params:
            rows.append(f'<font point-size="9" color="#555555">{params:,} params</font>')
        label = "<br/>".join(rows)
        self.lines.append(f'{indent}"{ident}" [label=<{label}>, fillcolor="{fill}", '
                          f'color="{border}"];')

    def edge(self, a: str, b: str, shape: str, indent: str):
        self.lines.append(f'{indent}"{a}" -> "{b}" [label=" {_h(shape)} "];')


def dot_source(checked: Checked, *, rankdir: str = "TB", collapse: bool = False) -> str:
    spec = checked.spec
    d = _Dot(rankdir, collapse)
    d.lines += [
        f'digraph "{spec.name}" {{',
        f'  graph [rankdir={rankdir}, fontname="{FONT}", fontsize=12, nodesep=0.35, ranksep=0.4,'
        f' label=<<b>{_h(spec.name)}</b>  {_h(spec.title)}>, labelloc=t];',
        f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11,'
        ' margin="0.12,0.05"];',
        f'  edge [fontname="{FONT}", fontsize=9, fontcolor="#444444", color="#666666",'
        ' arrowsize=0.7];',
    ]
    sources = {}
    for name in spec.sources():
        ident = f"in:{name}"
        fill, border = COLOURS["input"]
        d.lines.append(f'  "{ident}" [label=<<b>{_h(name)}</b><br/><font point-size="10">'
                       f'{_h(checked.shape_text(name))}</font>>, shape=oval, '
                       f'fillcolor="{fill}", color="{border}"];')
        sources[name] = ident
    outs = _draw(checked, d, "", sources, "  ")
    for o in spec.outputs:
        ident = f"out:{o.name}"
        when = f" (if {o.when.text})" if o.when is not None else ""
        d.lines.append(f'  "{ident}" [label=<<b>return {_h(o.name)}</b>{_h(when)}>, '
                       'shape=oval, fillcolor="#ffffff", color="#333333"];')
        if o.name in outs:
            d.edge(outs[o.name], ident, checked.shape_text(o.name), "  ")
    d.lines.append("}")
    return "\n".join(d.lines) + "\n"


def _draw(checked: Checked, d: _Dot, prefix: str, sources: dict[str, str], indent: str):
    """Draw a spec's nodes; `sources` maps its input names to drawn node ids.

    Returns tensor name -> drawn id of the node producing it.
    """
    spec = checked.spec
    values = param_values(spec)
    produced = dict(sources)
    for name in checked.order:
        node = spec.nodes[name]
        if name not in checked.nodes:
            continue  # not active in any checked configuration shown
        info = checked.nodes[name]
        body = node
        if node.cases is not None:
            body = next((c for c in node.cases if c.when.value({**values, **info.config})),
                        node.cases[0])
        ident = f"{prefix}{name}"
        inputs = [r.name for r in body.inputs]
        in_shapes = [fmt_shape(s) if s is not None else "None" for s in info.inputs]
        if body.use and not d.collapse and checked.subs.get(body.spec.name):
            sub = checked.subs[body.spec.name]
            d.lines.append(f'{indent}subgraph "cluster_{ident}" {{')
            d.lines.append(f'{indent}  label=<<b>{_h(name)}</b>: {_h(sub.spec.name)}>; '
                           'style="rounded,dashed"; color="#888888"; fontsize=11;')
            inner_sources = {}
            for (inp_name, src_name), shape in zip(zip(sub.spec.sources(), inputs), in_shapes):
                inner_sources[inp_name] = produced[src_name]
            inner = _draw(sub, d, f"{ident}.", inner_sources, indent + "  ")
            d.lines.append(f"{indent}}}")
            last = sub.spec.outputs[0].name
            produced[name] = inner.get(last, ident)
            for o in node.out or ():
                produced[o] = produced[name]
            continue
        group = _group(body)
        params = node_params(node, {**values, **info.config})
        title = name if not node.out else f"{name} → {', '.join(node.out)}"
        if node.when is not None:
            title += f"  [if {node.when.text}]"
        d.box(ident, title, key_args(body), group, params, indent)
        for src_name, shape in zip(inputs, in_shapes):
            if src_name in produced:
                d.edge(produced[src_name], ident, shape, indent)
        if body.if_given is not None and body.if_given.name in produced:
            d.lines.append(f'{indent}"{produced[body.if_given.name]}" -> "{ident}" '
                           '[style=dashed, label=" if given "];')
        produced[name] = ident
        for o in node.out or ():
            produced[o] = ident
    return produced


def terminal(checked: Checked) -> str:
    """A top-to-bottom flow chart for the terminal, like the notes' ASCII drawings."""
    spec = checked.spec
    values = param_values(spec)
    rows = []
    for name in spec.sources():
        rows.append((name, "input", "", checked.shape_text(name), 0))
    previous = rows[-1][0] if rows else None
    for name in checked.order:
        if name not in checked.nodes:
            continue
        node = spec.nodes[name]
        info = checked.nodes[name]
        body = node if node.cases is None else next(
            (c for c in node.cases if c.when.value({**values, **info.config})), node.cases[0])
        inputs = [r.name for r in body.inputs]
        src = "" if inputs == [previous] else "◀ " + ", ".join(inputs)
        shape = checked.shape_text(name) if not node.out else \
            ", ".join(checked.shape_text(o) for o in node.out)
        label = key_args(body)
        if node.when is not None:
            label += f"  [if {node.when.text}]"
        rows.append((name if not node.out else f"{name} → {', '.join(node.out)}", label, src,
                     shape, node_params(node, {**values, **info.config})))
        previous = name
    w_name = max(len(r[0]) for r in rows)
    w_label = min(max(len(r[1]) for r in rows), 48)
    title = f"{spec.name}" + (f" — {spec.title}" if spec.title else "") + f"  [{spec.file}]"
    lines = [title, ""]
    for i, (name, label, src, shape, params) in enumerate(rows):
        if i:
            lines += ["  │", "  ▼"]
        label = label if len(label) <= 48 else label[:45] + "..."
        extra = f"  {src}" if src else ""
        count = f"  ({params:,} params)" if params else ""
        lines.append(f"  {name:<{w_name}}  {label:<{w_label}}  {shape}{extra}{count}")
    outs = ", ".join(o.name + (f" (if {o.when.text})" if o.when is not None else "")
                     for o in spec.outputs)
    total = sum(r[4] for r in rows)
    lines += ["  │", "  ▼", f"  return {outs}", "", f"parameters at the defaults: {total:,}"]
    return "\n".join(lines)
