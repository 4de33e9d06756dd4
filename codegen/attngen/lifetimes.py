"""Free forward's intermediate tensors after their last use: `del` lines in the emitted code.

The emitted forward names every node's value, so without this each intermediate would
stay alive until forward returns, and its peak memory would be the sum of them all, where
hand-written code (`x = f(x)`, or one chained expression) frees each as it goes. After the
top-level statement that last reads a value, `del` unbinds it together with every name
that shares its storage (a view, a permute, a plain alias: those free nothing alone), so
the memory goes back before the next large value is made.

This reads the emitted lines with Python's `ast` (generated code, never spec text) and
only removes names: it cannot change a value, only when one is freed. A name is deleted
only where it is surely bound: assigned by an unconditional top-level statement, never a
forward input, and only before a later statement that makes a large value.
"""

from __future__ import annotations

import ast

from .model import Cases
from .results import Checked

DEL_WIDTH = 99 - 8  # layout.WIDTH less forward's indent
# methods whose result may share its input's storage (reshape copies only sometimes)
_ALIASING = {"view", "reshape", "permute", "transpose", "squeeze", "unsqueeze", "expand",
             "flatten", "unflatten", "chunk", "split", "unbind", "narrow", "select",
             "movedim", "contiguous", "view_as", "expand_as", "t", "mT", "unfold"}


def value_names(checked: Checked) -> tuple[set[str], set[str]]:
    """(the names forward binds to node values, those of them that are large).

    Dims are never among them. Small is one tensor with at most two dims other than 1 (a
    pooled vector or a gate per sample) in a forward that also makes larger values: freeing
    it early saves little next to them. Where every value is that small (CBAM's channel
    MLP), they are the peak, and each is freed like a large one.
    """
    names = set(checked.spec.nodes)
    for node in checked.spec.nodes.values():
        bodies = node.form.cases if isinstance(node.form, Cases) else [node]
        names.update(o for body in bodies for o in body.out or ())
    small = {n for n in names if _small(checked, n)}
    return names, names - small if small != names else names


def _small(checked: Checked, name: str) -> bool:
    """Whether a value is one tensor with at most two dims other than 1 (unknown: no)."""
    try:
        value = checked.value(name)
    except (KeyError, ValueError):
        return False
    return isinstance(value, tuple) and sum(1 for d in value if d != 1) <= 2


def parse_forward(lines: list[str]) -> tuple[list[str], ast.Module | None]:
    """A forward body's lines one per line, and their tree as `def forward():` (line k of
    the tree is flat[k - 2]); None for a body that does not parse (a bug upstream: render's
    compile check reports it, located)."""
    flat = [part for line in lines for part in line.split("\n")]
    try:
        return flat, ast.parse("def forward():\n" + "\n".join("    " + line for line in flat))
    except SyntaxError:
        return flat, None


def with_dels(lines: list[str], inputs: set[str], values: set[str], big: set[str]) -> list[str]:
    """`lines` (a forward body at indent 0) with `del` lines for the values no longer read.

    `inputs` are forward's parameters (their storage is the caller's); `values` the names
    that may be deleted (the spec's node values; not dims, not loop variables); `big` those
    of them worth freeing before they are made (more than a vector per sample). A value dead
    after statement i is deleted just before the next statement that binds a `big` value,
    so consecutive deaths share one line and nothing is deleted before the return.
    """
    flat, tree = parse_forward(lines)
    if tree is None:
        return flat
    body = tree.body[0].body  # type: ignore[attr-defined]
    captured = _captured(tree)
    bound: dict[str, int] = {}  # name -> first top-level statement that surely binds it
    last_read: dict[str, int] = {}
    allocates = []  # per statement: whether it binds a big value
    alias = _Aliases()
    for i, stmt in enumerate(body):
        stored = set()
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    last_read[node.id] = i
                else:
                    stored.add(node.id)
        allocates.append(bool(stored & big))
        if isinstance(stmt, ast.Assign):
            for name in _target_names(stmt.targets):
                bound.setdefault(name, i)
                source = _aliased_source(stmt.value)
                if source is not None:
                    alias.join(name, source)
    groups: dict[str, list[str]] = {}
    for name in set(bound) | set(last_read):
        groups.setdefault(alias.find(name), []).append(name)
    dels: dict[int, list[str]] = {}  # statement index -> names deleted just before it
    for members in groups.values():
        if inputs & set(members):
            continue  # the caller's storage: deleting our names frees nothing
        end = max(last_read.get(m, bound.get(m, -1)) for m in members)
        later = next((j for j in range(end + 1, len(body)) if allocates[j]), None)
        names = [m for m in members if m in values and m in bound and m not in captured]
        if end >= 0 and later is not None and names:
            dels.setdefault(later, []).extend(names)
    if not dels:
        return flat
    # a statement's own comment lines come right before it: the `del` goes above them
    starts = {}
    for j in dels:
        first = body[j].lineno - 2  # line k of the parsed text is flat[k - 2]
        while first > 0 and flat[first - 1].lstrip().startswith("#"):
            first -= 1
        starts[first] = j
    out: list[str] = []
    for n, line in enumerate(flat):
        if n in starts:  # in the order the code binds them: it reads as the dataflow
            names = sorted(dels[starts[n]], key=lambda m: (bound[m], m))
            out += _del_lines(names)
        out.append(line)
    return out


def _captured(tree: ast.AST) -> set[str]:
    """Names read inside a comprehension or lambda: Python makes them closure cells, and
    `del` of a cell (DELETE_DEREF) is a graph break under torch.compile(fullgraph=True)."""
    nested = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)
    return {n.id for scope in ast.walk(tree) if isinstance(scope, nested)
            for n in ast.walk(scope) if isinstance(n, ast.Name)}


def _del_lines(names: list[str]) -> list[str]:
    """`del a, b, ...` lines that fit forward's body (99 columns at 8 spaces): a wrapped
    `del (a, b)` would read as deleting a tuple."""
    lines = [f"del {names[0]}"]
    for name in names[1:]:
        if len(lines[-1]) + 2 + len(name) > DEL_WIDTH:
            lines.append(f"del {name}")
        else:
            lines[-1] += f", {name}"
    return lines


def _target_names(targets) -> list[str]:
    names = []
    for t in targets:
        if isinstance(t, ast.Name):
            names.append(t.id)
        elif isinstance(t, ast.Tuple):
            names += [e.id for e in t.elts if isinstance(e, ast.Name)]
    return names


def _aliased_source(value: ast.expr) -> str | None:
    """The name whose storage `value` may share: `x`, `x[i]`, `x.view(...)`, `x.mT`."""
    while True:
        if isinstance(value, ast.Name):
            return value.id
        if isinstance(value, ast.Subscript):
            value = value.value
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                and value.func.attr in _ALIASING:
            value = value.func.value
        elif isinstance(value, ast.Attribute) and value.attr in _ALIASING:
            value = value.value
        else:
            return None


class _Aliases:
    """Union-find over names that may share storage."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb
