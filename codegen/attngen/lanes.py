"""The terminal's drawing of a checked spec: parallel branches in lanes, as `git log --graph`
draws history, top to bottom.

One row per step (an input, a node, the `return`), its glyph in its lane, then its name,
what it calls and the shape it makes. A lane carries one value down from the step that
makes it to the steps that read it, so every line drawn is a real edge and no edge is
left out: a step right below another in the same lane reads it; a value read by several
steps forks (`├─╮`), and a step that reads several values is joined by them (`├─╯`). A
line crossing a lane on its way is broken by it (`─│─`), so a crossing never reads as a
junction.

    ○ x          input                 (B, 512, H, W)
    ├─╮
    │ ● avg_pool  AdaptiveAvgPool2d(1)  (B, 512, 1, 1)
    ...
    ├─╯
    ● out         mul                   (B, 512, H, W)

Sub-modules are drawn out, their nodes named `call.node`, unless `collapse` (one step
each). Everything fits in `width` columns: long call labels are shortened first; when even
the lanes, names and shapes do not fit, `draw` falls back to a list in which each step
names the values it reads.

A pure function of the checked graph: `draw(checked, width=..., collapse=...)` -> lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from .counts import node_params
from .counts import total as params_total
from .describe import call_label
from .diagram import (
    UNUSED_NOTE,
    bound_shape,
    cluster_of,
    cluster_values,
    drawn_at,
    drawn_nodes,
    kept_layers,
    other_reads,
    reads,
    shown_params,
    sub_binding,
)
from .dims import fmt_shape
from .results import Checked

MIN_LABEL = 12  # a call label is shortened to no fewer columns than this before falling back
MIN_TAIL = 16  # a shape (and parameter count) likewise
TYPICAL_TAIL = 48  # labels are cut to leave a shape this much room, no more

ELLIPSIS = "…"

# A junction's glyph from the lines that meet in it: (up, down, left, right).
_GLYPH = {
    (True, True, False, False): "│", (False, False, True, True): "─",
    (True, True, True, True): "┼", (True, True, False, True): "├", (True, True, True, False): "┤",
    (False, True, True, True): "┬", (True, False, True, True): "┴",
    (False, True, False, True): "╭", (False, True, True, False): "╮",
    (True, False, False, True): "╰", (True, False, True, False): "╯",
}
_MARK = {"input": "○", "node": "●", "return": "◎"}


@dataclass(frozen=True)
class Step:
    """One row: a spec input, a node (or a sub-module's node), or the `return`."""

    ident: str  # unique in the drawing
    name: str
    label: str
    shape: str
    params: int
    reads: tuple[str, ...]  # the idents of the steps whose values it reads, each once
    kind: str  # "input", "node" or "return"


def steps(checked: Checked, collapse: bool = False) -> list[Step]:
    """The steps of a drawing in order: inputs, nodes (sub-modules drawn out unless
    `collapse`), the return."""
    spec = checked.spec
    out = [Step(f"in:{n}", n, "input", checked.shape_text(n), 0, (), "input")
           for n in spec.sources()]
    made = _nodes(checked, "", {n: f"in:{n}" for n in spec.sources()}, {}, collapse, out)
    returned = [o for o in spec.outputs if o.name in made]
    label = ", ".join(o.name + (f" if {o.when.text}" if o.when is not None else "")
                      for o in returned)
    out.append(Step("return", "return", label, "", 0,
                    _once(made[o.name] for o in returned), "return"))
    return out


def _once(idents) -> tuple[str, ...]:
    return tuple(dict.fromkeys(idents))


def _nodes(checked: Checked, prefix: str, sources: dict[str, str], binding: dict,
           collapse: bool, out: list[Step], at: dict[str, object] | None = None
           ) -> dict[str, str]:
    """Append a spec's steps to `out`; `sources` maps its input names to step idents.
    Returns tensor name -> ident of the step that makes it."""
    spec = checked.spec
    made = dict(sources)
    for name, node, body, values in drawn_nodes(checked, at):
        ident = f"{prefix}{name}"
        read = reads(body)
        sub = cluster_of(checked, body, collapse)
        if sub is not None:
            info = checked.nodes[name]
            inner = _nodes(sub, f"{ident}.", {i: made[s] for i, s in zip(
                sub.spec.sources(), read, strict=False) if s in made},
                sub_binding(sub, info.inputs, binding), collapse, out,
                cluster_values(body, values))
            sub_outs = [o.name for o in sub.spec.outputs]
            for o, inner_name in zip([name, *(node.out or ())], [sub_outs[0], *sub_outs],
                                     strict=False):
                if inner_name in inner:
                    made[o] = inner[inner_name]
            continue
        shape = ", ".join(fmt_shape(bound_shape(checked.value(o), binding))
                          for o in node.out or [name])
        label = call_label(body, spec)
        if node.when is not None:
            label += f"  [if {node.when.text}]"
        if node.unused:
            label += f"  [{UNUSED_NOTE}]"
        others = [(n, when) for n, when in other_reads(node, body) if n in made]
        for n, when in others:  # another case's input: its lane joins too
            label += f"  [{n} if {when}]"
        title = name if not node.out else f"{name} → {', '.join(node.out)}"
        out.append(Step(ident, prefix + title, label, shape,
                        shown_params(spec, node, body, values),
                        _once(made[r] for r in [*read, *(n for n, _ in others)] if r in made),
                        "node"))
        for o in [name, *(node.out or ())]:
            made[o] = ident
    for name, node, values in kept_layers(checked, at):  # read by nothing: a lane of its own
        out.append(Step(f"{prefix}{name}", prefix + name, f"{call_label(node, spec)}  "
                        f"[{UNUSED_NOTE}]", "", node_params(node, values), (), "node"))
    return made


def draw(checked: Checked, width: int = 80, collapse: bool = False) -> list[str]:
    """The drawing as lines of at most `width` columns: lanes if they fit, else the list;
    shapes in the spec's lets (shown_lets)."""
    from .shown_lets import lets_shown  # sympy's printer: not on a cache hit's path

    with lets_shown(checked):
        return _draw_lines(checked, width, collapse)


def _draw_lines(checked: Checked, width: int, collapse: bool) -> list[str]:
    spec = checked.spec
    title = spec.name + (f" — {spec.title}" if spec.title else "") + f"  [{spec.file}]"
    if at := drawn_at(spec):
        title += f"  (drawn at {at})"
    all_steps = steps(checked, collapse)
    body = lanes(all_steps, width)
    if body is None:
        body = listing(all_steps, width)
    foot = f"parameters at the defaults: {params_total(spec):,}"
    return [_cut(title, width), "", *body, "", _cut(foot, width)]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + ELLIPSIS


# -- lanes -----------------------------------------------------------------------------------
def graph_rows(all_steps: list[Step]) -> list[tuple[str, Step | None]]:
    """The lanes: (graph text, the step drawn on that row or None for a row of joins)."""
    readers: dict[str, int] = {}  # ident -> reads still to come
    for step in all_steps:
        for r in step.reads:
            readers[r] = readers.get(r, 0) + 1
    lanes: list[str | None] = []  # the value each lane carries down; None: a free lane
    rows: list[tuple[str, Step | None]] = []
    unread: int | None = None  # the lane of the step just drawn if nothing reads its value
    for step in all_steps:
        srcs = [lanes.index(r) for r in step.reads if r in lanes]
        for r in step.reads:
            readers[r] -= 1
        ending = [i for i in srcs if readers[lanes[i] or ""] == 0]
        if ending:
            col = min(ending)  # the step goes on in the lane of a value read for the last time
        else:  # a new lane: the first free one right of what it reads, else a new one;
            # never right below a step whose value nothing reads: that would read as an edge
            first = min(srcs, default=-1)
            col = next((i for i, v in enumerate(lanes) if v is None and i > first
                        and i != unread), len(lanes))
            if col == len(lanes):
                lanes.append(None)
        if srcs != [col]:  # a row of joins and forks above the step
            if srcs:
                rows.append((_joins(lanes, srcs, col, readers), None))
            for i in ending:
                lanes[i] = None
        elif ending:
            lanes[col] = None
        cells = ["│" if v is not None else " " for v in lanes]
        cells[col] = _MARK[step.kind]
        rows.append((" ".join(cells).rstrip(), step))
        lanes[col] = step.ident if readers.get(step.ident, 0) else None
        unread = col if lanes[col] is None else None
        while lanes and lanes[-1] is None and len(lanes) - 1 != unread:
            lanes.pop()
    return rows


def _joins(lanes: list[str | None], srcs: list[int], col: int, readers: dict) -> str:
    """The row joining the lanes `srcs` into the step's lane `col`: a lane read for the
    last time turns into the line, one read again later forks off it."""
    lo, hi = min(*srcs, col), max(*srcs, col)
    text = []
    for c, value in enumerate(lanes):
        inside = lo <= c <= hi
        if c == col:
            glyph = _GLYPH[(c in srcs, True, c > lo, c < hi)]
        elif c in srcs:
            glyph = _GLYPH[(True, readers[value or ""] > 0, c > lo, c < hi)]
        elif value is not None:
            glyph = "│"  # a lane the line crosses (or passes by)
        else:
            glyph = "─" if inside else " "
        text.append(glyph)
        if c < len(lanes) - 1:
            text.append("─" if lo <= c < hi else " ")
    return "".join(text).rstrip()


def lanes(all_steps: list[Step], width: int) -> list[str] | None:
    """The lanes with each step's name, call and shape in columns; None if they cannot fit
    in `width` even with call labels cut to MIN_LABEL columns and shapes to MIN_TAIL.

    Labels give way first, but not to a rare very long shape (a list of unlike shapes):
    that one is cut instead."""
    rows = graph_rows(all_steps)
    w_graph = max(len(g) for g, _ in rows)
    drawn = [s for _, s in rows if s is not None]
    w_name = max(len(s.name) for s in drawn)
    w_label = max(len(s.label) for s in drawn)
    w_tail = max(len(_tail(s)) for s in drawn)
    room = width - (w_graph + 2 + w_name + 2 + 2)  # for the label and the shape
    if room < min(w_label, MIN_LABEL) + min(w_tail, MIN_TAIL):
        return None
    w_label = min(w_label, max(MIN_LABEL, room - min(w_tail, TYPICAL_TAIL)))
    out = []
    for graph, step in rows:
        if step is None:
            out.append(graph)
            continue
        text = f"{graph:<{w_graph}}  {step.name:<{w_name}}  {_cut(step.label, w_label):<{w_label}}"
        out.append((text + "  " + _tail(step, room - w_label)).rstrip())
    return out


def _tail(step: Step, width: int | None = None) -> str:
    """The shape and the parameter count; a shape cut to fit `width` (the count is kept)."""
    count = f"  ({step.params:,} params)" if step.params else ""
    if width is None:
        return step.shape + count
    if len(step.shape) + len(count) <= width:
        return step.shape + count
    if width - len(count) >= MIN_TAIL // 2:
        return _cut(step.shape, width - len(count)) + count
    return _cut(step.shape + count, width)


# -- the list ------------------------------------------------------------------------------
def listing(all_steps: list[Step], width: int) -> list[str]:
    """The narrow fallback: each step on its own lines, naming the values it reads."""
    names = {s.ident: s.name.split(" → ")[0] for s in all_steps}
    out = []
    for step in all_steps:
        head = f"{_MARK[step.kind]} {step.name}"
        if step.reads:
            head += " ◀ " + ", ".join(names[r] for r in step.reads)
        out.append(_cut(head, width))
        if step.kind != "input" and step.label:
            out.append(_cut(f"    {step.label}", width))
        if step.kind != "return":
            out.append(_cut(f"    → {_tail(step)}", width))
    return out
