"""Diagrams: Graphviz DOT (rendered by render.py); the terminal's is lanes.py.

One box per node with its op and key arguments, the tensor shape on every edge (in a
smaller font), the parameter count of each parametrised node, sub-modules as labelled
clusters (or one box each with `collapse`). A box has the colours of its op's group
(ops.GROUPS, declared with the ops; a sub-module's is the group `module`), so every
diagram uses the same visual language; inputs and outputs are white ovals. `legend=True`
draws the colour key.

A `seq` node is one box with a coloured row per step; a node that reuses another's
layer (`apply`) has that layer's colour and a dashed border. A `cases` node is drawn as its
case at the drawn configuration; what its other cases read comes in on dashed edges
labelled with their conditions.
"""

from __future__ import annotations

import html
import re

from . import ops
from .counts import call_values, node_params, param_values
from .describe import applications, call_label, item_call
from .dims import fmt_shape
from .errors import OVER_BUDGET, error, visible
from .model import (
    Cases,
    FunctionOp,
    LayerCall,
    LayerOp,
    Map,
    Node,
    NodeForm,
    Repeat,
    Seq,
    Stack,
    SubSpec,
    TensorDecl,
    assert_never,
    cases_of,
    layer_target,
    unwrapped,
)
from .results import Checked
from .shape_comments import copies_differ, spec_shape

IO = ops.Group("io", "#ffffff", "#333333", "input / output")  # the ovals: not an op group
# params and buffers: tensors the module owns, drawn as folded notes (not an op group)
TENSOR = ops.Group("tensor", "#fff4d6", "#a07a1e", "parameter / buffer (owned tensor)")
FONT = "Helvetica"
WRAP = 40  # characters per line of a box's argument text
MAX_LINES = 4  # longer argument lists end in "..."
RANKDIRS = ("TB", "LR", "BT", "RL")
# The diagram budget: boxes drawn, a sub-module's boxes once per cluster it is drawn in
# (nested sub-modules that use others twice double at every level). Past it, sub-modules
# are drawn as one box each (the label says so); a spec over it even then is refused.
MAX_BOXES = 2_000


def _h(text) -> str:
    # graphviz-pure sizes boxes from ASCII glyph widths only (any other character counts as
    # a space), so our own arrow is written "->" in diagrams; the terminal keeps "→".
    # Controls are written as escapes (`visible`): Graphviz refuses them in a label.
    return html.escape(visible(str(text).replace("→", "->")), quote=True)


def _wrap(text: str, width: int = WRAP) -> list[str]:
    """Break after ", " so that lines stay near `width`; at most MAX_LINES lines."""
    lines, line = [], ""
    for piece in text.split(", "):
        if line and len(line) + 2 + len(piece) > width:
            lines.append(line + ",")
            line = "    " + piece  # continuation lines are indented
        else:
            line = f"{line}, {piece}" if line else piece
    lines.append(line)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES - 1] + ["    ..."]
    return lines


def palette() -> list[ops.Group]:
    """The colour key's rows: one per legend text, in the order the groups are declared."""
    rows: dict[str, ops.Group] = {}
    for group in [*ops.GROUPS.values(), TENSOR, IO]:
        rows.setdefault(group.legend, group)
    return list(rows.values())


def _group(op_name: str | None) -> ops.Group:
    """An op's group; a sub-module's (no op) is `module`."""
    return ops.GROUPS[ops.REGISTRY[op_name].group if op_name else "module"]


def _kind(form: NodeForm, spec) -> ops.Group:
    """A node's group: its op's, a seq's first op's, an `apply` target's."""
    match form:
        case LayerCall(target):
            layer = spec.nodes.get(target.name)
            return _kind(layer.form, spec) if layer is not None \
                and layer_target(layer.form) is None else _group(None)
        case LayerOp(op) | FunctionOp(op):
            return _group(op)
        case Seq(items):
            return _group(next((i.form.op for i in items if isinstance(i.form, LayerOp)), None))
        case SubSpec() | Cases() | Stack():
            return _group(None)
        case Repeat(body=body) | Map(body=body):
            return _kind(body, spec)
        case TensorDecl():
            return TENSOR
        case _:
            assert_never(form)


class _Dot:
    """DOT lines: nodes (inside their clusters) first, then every edge at the top level.

    Edges stay outside clusters: an edge written inside a cluster would pull a node
    from outside (an input, an earlier node) into that cluster.
    """

    def __init__(self):
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.kinds: set[str] = set()  # the legend rows drawn

    def _params(self, params: int) -> str:
        unit = "param" if params == 1 else "params"
        return f'<font point-size="9" color="#555555">{params:,} {unit}</font>' if params else ""

    def box(self, ident: str, title: str, detail: str, kind: ops.Group, params: int, indent: str,
            dashed: bool = False, note: str = ""):
        fill, border = kind.fill, kind.border
        self.kinds.add(kind.legend)
        rows = [f"<b>{_h(title)}</b>"]
        if note:  # a condition: when / if given / for each
            rows.append(f'<font point-size="9"><i>{_h(note)}</i></font>')
        rows += [f'<font point-size="10">{_h(line)}</font>' for line in _wrap(detail)]
        if params:
            rows.append(self._params(params))
        style = ', style="rounded,filled,dashed"' if dashed else ""
        if kind is TENSOR:  # a tensor the module owns, not a computation: a folded note
            style = ', shape=note, style="filled"'
        self.lines.append(f'{indent}"{ident}" [label=<{"<br/>".join(rows)}>, '
                          f'fillcolor="{fill}", color="{border}"{style}];')

    def seq_box(self, ident: str, title: str, steps: list[tuple[str, ops.Group]], params: int,
                indent: str, note: str = ""):
        """One box, one coloured row per step of an nn.Sequential."""
        border = steps[0][1].border if steps else ops.GROUPS["module"].border
        rows = [f"<tr><td><b>{_h(title)}</b></td></tr>"]
        if note:
            rows.append(f'<tr><td><font point-size="9"><i>{_h(note)}</i></font></td></tr>')
        for text, kind in steps:
            self.kinds.add(kind.legend)
            cell = "<br/>".join(_h(line) for line in _wrap(text))
            rows.append(f'<tr><td bgcolor="{kind.fill}"><font point-size="10">{cell}'
                        "</font></td></tr>")
        if params:
            rows.append(f"<tr><td>{self._params(params)}</td></tr>")
        table = ('<table border="1" cellborder="0" cellspacing="2" cellpadding="3" '
                 f'style="rounded" color="{border}" bgcolor="#ffffff">{"".join(rows)}</table>')
        self.lines.append(f'{indent}"{ident}" [shape=plain, style=solid, label=<{table}>];')

    def oval(self, ident: str, title: str, detail: str, indent: str):
        fill, border = IO.fill, IO.border
        label = f"<b>{_h(title)}</b>"
        if detail:
            label += f'<br/><font point-size="10">{_h(detail)}</font>'
        self.lines.append(f'{indent}"{ident}" [label=<{label}>, shape=oval, '
                          f'fillcolor="{fill}", color="{border}"];')

    def edge(self, a: str, b: str, shape: str, extra: str = ""):
        self.edges.append(f'  "{a}" -> "{b}" [label=" {_h(shape)} "{extra}];')

    def legend(self, indent: str):
        """The colour key: one row per group drawn in this diagram."""
        rows = "".join(
            f'<tr><td bgcolor="{g.fill}" width="14" height="10" border="1" color="{g.border}">'
            f'</td><td align="left">{_h(g.legend)}</td></tr>'
            for g in palette() if g.legend in self.kinds)
        self.lines.append(
            f'{indent}"legend" [shape=plain, style=solid, label=<<table border="0" '
            'cellspacing="3" cellpadding="1" bgcolor="#ffffff">'
            f'<tr><td colspan="2" align="left"><b>key</b></td></tr>{rows}'
            "</table>>, fontsize=9];"
        )


def holds(expr, values: dict) -> bool:
    """Whether a condition holds at `values` (one it cannot decide there is taken to)."""
    if expr is None:
        return True
    try:
        return bool(expr.value(values))
    except Exception:  # noqa: BLE001  (reads a dim or a let of another configuration: draw it)
        return True


def drawn_nodes(checked: Checked, at: dict[str, object] | None = None):
    """(name, node, body, values) for every node a diagram shows.

    Diagrams show the default configuration: a node switched off there by a `choices`
    param (ASFF's `level`) is left out and a `cases` node shows its active case; a node
    switched on by a bool param (`vis`, `no_spatial`) is drawn with its condition, so
    optional outputs stay visible. A sub-module is drawn `at` its call's values
    (counts.call_values: its layers' parameter counts are the caller's).
    """
    spec = checked.spec
    values = at if at is not None else param_values(spec)
    choices = {p.name for p in spec.params.values() if p.choices}
    for name in checked.order:
        if name not in checked.nodes:
            continue
        node = spec.nodes[name]
        env = values
        if node.when is not None and not holds(node.when, values):
            if _switched_off(node, choices):
                continue
            env = param_values(spec, checked.nodes[name].config)  # its lets too
        cases = cases_of(node)
        body = next((c for c in cases if holds(c.when, env)), cases[0]) if cases else node
        yield name, node, body, env


UNUSED_NOTE = "unused: kept in the state_dict"


def kept_layers(checked: Checked, at: dict[str, object] | None = None):
    """(name, node, values) of each layer declared `unused: true` that the diagram's
    configuration has (drawn_nodes' rule): no call draws it, so it is drawn on its own."""
    spec = checked.spec
    values = at if at is not None else param_values(spec)
    choices = {p.name for p in spec.params.values() if p.choices}
    for name, node in spec.nodes.items():
        if not node.unused or isinstance(node.form, TensorDecl):
            continue
        if node.when is not None and not holds(node.when, values) \
                and _switched_off(node, choices):
            continue
        yield name, node, values


def _switched_off(node: Node, choices: set[str]) -> bool:
    """A node whose `when` fails at the defaults is left out of the diagram where a
    `choices` param decides it (ASFF's `level`), drawn with its condition where a bool does."""
    return node.when is not None and bool(set(node.when.names) & choices)


def reads(body: Node) -> list[str]:
    """The tensors a node (or a case) reads: its inputs, then its `if_given` input."""
    names = [r.name for r in body.inputs]
    if body.if_given is not None and body.if_given.name not in names:
        names.append(body.if_given.name)
    return names


def other_reads(node: Node, body: Node) -> list[tuple[str, str]]:
    """(tensor, condition) for each tensor that a case of `node` other than the drawn one
    (`body`) reads and `body` does not: drawings show it as an edge of that condition,
    so a diagram at one configuration still shows where every case reads from."""
    drawn = set(reads(body))
    conditions: dict[str, list[str]] = {}
    for case in cases_of(node):
        if case is body or case.when is None:
            continue
        for name in reads(case):
            if name not in drawn:
                conditions.setdefault(name, []).append(case.when.text)
    return [(name, _any_of(whens)) for name, whens in conditions.items()]


def _any_of(conditions: list[str]) -> str:
    """Conditions joined by `or`, each with one of its own in parentheses."""
    if len(conditions) == 1:
        return conditions[0]
    return " or ".join(f"({c})" if re.search(r"\b(or|if|lambda)\b", c) else c
                       for c in conditions)


def shown_params(spec, node: Node, body: Node, values: dict) -> int:
    """A node's parameter count; a layer declared once and applied once counts where applied."""
    target = layer_target(body.form)
    if target is not None:
        layer = spec.nodes.get(target.name)
        if layer is not None and layer_target(layer.form) is None \
                and applications(spec, layer.name) == 1:
            return node_params(layer, values)
        return 0
    return node_params(node, values)


def drawn_at(spec) -> str:
    """`level=0`: the values of `choices` params a diagram is drawn at ('' if none)."""
    values = param_values(spec)
    return ", ".join(f"{p.name}={values[p.name]!r}" for p in spec.params.values() if p.choices)


def dot_source(checked: Checked, *, rankdir: str = "TB", collapse: bool = False,
               legend: bool = False) -> str:
    """The diagram as DOT; `collapse` draws each sub-module as one box. Shapes are written
    in the spec's lets (shown_lets)."""
    from .shown_lets import lets_shown  # sympy's printer: not on a cache hit's path

    with lets_shown(checked):
        return _dot_source(checked, rankdir, collapse, legend)


def _dot_source(checked: Checked, rankdir: str, collapse: bool, legend: bool) -> str:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}")
    spec = checked.spec
    d = _Dot()
    at = drawn_at(spec)
    at = f"  <i>(drawn at {_h(at)})</i>" if at else ""
    if not collapse and _boxes(checked, False) > MAX_BOXES:
        collapse = True
        at += f"  <i>(sub-modules collapsed: drawn out, over {MAX_BOXES:,} boxes)</i>"
    if _boxes(checked, True) > MAX_BOXES:
        raise error(spec.loc, OVER_BUDGET, f"the diagram would have more than {MAX_BOXES:,} boxes "
                    "(the build budget for diagram size)", "split the spec into sub-specs: "
                    "a sub-module too large to draw out is drawn as one box")
    graph = (f'  graph [rankdir={rankdir}, fontname="{FONT}", fontsize=12, nodesep=0.3, '
             f'ranksep=0.35, label=<<b>{_h(spec.name)}</b>  {_h(spec.title)}{at}>, labelloc=t];')
    node = (f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11, '
            'margin="0.12,0.05", penwidth=1.2];')
    edge = (f'  edge [fontname="{FONT}", fontsize=9, fontcolor="#444444", color="#666666", '
            'arrowsize=0.7];')
    head = [f'digraph "{spec.name}" {{', graph, node, edge]
    sources = {}
    for name in spec.sources():
        d.oval(f"in:{name}", name, checked.shape_text(name), "  ")
        sources[name] = f"in:{name}"
    d.kinds.add(IO.legend)
    outs = _draw(checked, d, "", sources, {}, "  ", collapse)
    for o in spec.outputs:
        ident = f"out:{o.name}"
        when = f"if {o.when.text}" if o.when is not None else ""
        d.oval(ident, f"return {o.name}", when, "  ")
        if o.name in outs:
            d.edge(outs[o.name], ident, checked.shape_text(o.name))
    if legend:
        d.legend("  ")
    return "\n".join(head + d.lines + d.edges + ["}"]) + "\n"


def _boxes(checked: Checked, collapse: bool) -> int:
    """The boxes dot_source would draw, counted without drawing them (at most
    MAX_BOXES + 1): inputs, outputs, and each node's box or sub-module's boxes."""
    spec = checked.spec
    return min(len(spec.sources()) + len(spec.outputs) + _node_boxes(checked, collapse, {}),
               MAX_BOXES + 1)


def _node_boxes(checked: Checked, collapse: bool, memo: dict) -> int:
    n = 0
    for _, _, body, _ in drawn_nodes(checked):
        sub = cluster_of(checked, body, collapse)
        if sub is not None:
            if sub.spec.name not in memo:  # each sub-module counted once
                memo[sub.spec.name] = _node_boxes(sub, collapse, memo)
            n += memo[sub.spec.name]
        else:
            n += 1
        if n > MAX_BOXES:
            break
    return n + sum(1 for _ in kept_layers(checked))


def palette_dot() -> str:
    """The colour key alone, for documentation pages."""
    d = _Dot()
    d.kinds.update(g.legend for g in palette())
    d.legend("  ")
    return "\n".join(["digraph palette {", f'  node [fontname="{FONT}", fontsize=10];',
                      *d.lines, "}"]) + "\n"


def bound_shape(shape, binding: dict):
    """A shape with a sub-module's own dim names replaced by the caller's dims."""
    if isinstance(shape, list):
        return [bound_shape(s, binding) for s in shape]
    if isinstance(shape, tuple) and binding:
        return tuple(d.xreplace(binding) if hasattr(d, "xreplace") else d for d in shape)
    return shape


def sub_binding(sub: Checked, caller_shapes: list, binding: dict) -> dict:
    """Each free dim of a sub-module's inputs (ZPool's P, Q) -> the caller's dim there."""
    out: dict[object, object] = {}
    for name, outer in zip(sub.spec.sources(), caller_shapes, strict=False):
        inner = sub.inputs.get(name)
        if not (isinstance(inner, tuple) and isinstance(outer, tuple)) or len(inner) != len(outer):
            continue
        for a, b in zip(inner, bound_shape(outer, binding), strict=False):
            if getattr(a, "is_Symbol", False) and a.name not in sub.spec.params:
                out.setdefault(a, b)
    return out


def cluster_of(checked: Checked, body: Node, collapse: bool) -> Checked | None:
    """The sub-module a node is drawn out as (a cluster of its nodes), or None (one box)."""
    called = unwrapped(body.form)
    if isinstance(called, Stack):  # a loop body is drawn once, its loop in the label
        called = called.body
    if collapse or isinstance(body.form, Repeat) or not isinstance(called, SubSpec):
        return None
    return checked.subs.get(called.spec.name)


def cluster_values(body: Node, values: dict[str, object]) -> dict[str, object] | None:
    """The values a `use:` node's sub-module is drawn at: its call's (None for a loop
    body, drawn at its first copy's)."""
    called = unwrapped(body.form)
    return call_values(called, values) if isinstance(called, SubSpec) else None


def _draw(checked: Checked, d: _Dot, prefix: str, sources: dict[str, str],
          entry_shapes: dict[str, str], indent: str, collapse: bool,
          binding: dict | None = None, at: dict[str, object] | None = None) -> dict[str, str]:
    """Draw a spec's nodes; `sources` maps its input names to drawn node ids.

    `entry_shapes` gives, for a sub-module, its inputs' shapes as the caller names them,
    so edges entering a cluster carry the outer spec's shape. Returns tensor name ->
    drawn id of the node producing it.
    """
    spec = checked.spec
    produced = dict(sources)
    written = copies_differ(spec)  # a loop body's first copy: its shapes as the spec writes
    for name, node, body, values in drawn_nodes(checked, at):
        info = checked.nodes[name]
        ident = f"{prefix}{name}"
        inputs = [r.name for r in body.inputs]
        in_shapes = [entry_shapes.get(src) or ((spec_shape(spec, src) or "") if written
                                               else fmt_shape(bound_shape(s, binding or {}))
                                               if s is not None else "None")
                     for src, s in zip(inputs, info.inputs, strict=False)]
        called = unwrapped(body.form)
        sub = cluster_of(checked, body, collapse)
        if sub is not None:
            d.lines.append(f'{indent}subgraph "cluster_{ident}" {{')
            what = sub.spec.name if not isinstance(body.form, Stack) else \
                f"for {body.form.var or '_'} in {body.form.iterable.text}, each copy on the last"
            d.lines.append(f'{indent}  label=<<b>{_h(name)}</b>: {_h(what)}>; '
                           'style="rounded,dashed"; color="#8a8a8a"; bgcolor="#fbfbfb"; '
                           'fontsize=11; margin=10;')
            inner_sources = {
                i: produced[s]
                for i, s in zip(sub.spec.sources(), inputs, strict=False)
                if s in produced
            }
            inner_shapes = dict(zip(sub.spec.sources(), in_shapes, strict=False))
            inner = _draw(sub, d, f"{ident}.", inner_sources, inner_shapes, indent + "  ",
                          collapse, sub_binding(sub, info.inputs, binding or {}),
                          cluster_values(body, values))
            d.lines.append(f"{indent}}}")
            sub_outs = [o.name for o in sub.spec.outputs]
            produced[name] = inner.get(sub_outs[0], ident)
            for o, inner_name in zip(node.out or (), sub_outs, strict=False):
                produced[o] = inner.get(inner_name, ident)
            continue
        params = shown_params(spec, node, body, values)
        title = name if not node.out else f"{name} → {', '.join(node.out)}"
        notes = [UNUSED_NOTE] if node.unused else []
        if node.when is not None:
            notes.append(f"if {node.when.text}")
        given = body.if_given.name if body.if_given is not None else None
        if given is not None:
            notes.append(f"if {given} is given")
        if isinstance(called, Seq) and len(called.items) > 1:
            steps = [(item_call(i), _kind(i.form, spec)) for i in called.items]
            if isinstance(body.form, Repeat):
                var = f"{body.form.var} in " if body.form.var else ""
                notes.append(f"for {var}{body.form.iterable.text}"
                             + (", one per tensor" if body.form.zipped else ""))
            d.seq_box(ident, title, steps, params, indent, "; ".join(notes))
        else:
            d.box(ident, title, call_label(body, spec), _kind(body.form, spec), params, indent,
                  dashed=layer_target(body.form) is not None, note="; ".join(notes))
        for src_name, shape in zip(inputs, in_shapes, strict=False):
            if src_name in produced:  # an optional input's edge is dashed
                d.edge(produced[src_name], ident, shape,
                       ", style=dashed" if src_name == given else "")
            listed = spec.inputs.get(src_name)  # a list input read whole: from each item
            for item in listed.items or () if listed is not None else ():
                if item.name in produced:
                    d.edge(produced[item.name], ident, entry_shapes.get(item.name)
                           or checked.shape_text(item.name))
        if given is not None and given not in inputs and given in produced:
            d.edge(produced[given], ident, "if given", ", style=dashed")
        for src_name, when in other_reads(node, body):  # another case's input: dashed
            if src_name in produced:
                shape = entry_shapes.get(src_name) or checked.shape_text(src_name)
                d.edge(produced[src_name], ident, f"{shape} if {when}", ", style=dashed")
        produced[name] = ident
        for o in node.out or ():
            produced[o] = ident
    for name, node, values in kept_layers(checked, at):  # apart: nothing reads them
        note = UNUSED_NOTE + (f"; if {node.when.text}" if node.when is not None else "")
        d.box(f"{prefix}{name}", name, call_label(node, spec), _kind(node.form, spec),
              node_params(node, values), indent, dashed=True, note=note)
    return produced
