"""Free forward's intermediate tensors after their last use: `del` lines in the emitted code.

The emitted forward names every node's value, so without this each intermediate would
stay alive until forward returns, and its peak memory would be the sum of them all, where
hand-written code (`x = f(x)`, or one chained expression) frees each as it goes. After the
top-level statement that last reads a value, `del` unbinds it together with every name
that shares its storage (a view, a permute, a plain alias: those free nothing alone), so
the memory goes back before the next large value is made.

This reads the emitted lines with Python's `ast` (generated code, never spec text) and
only removes names: it cannot change a value, only when one is freed. A name is deleted
only where it is surely bound: assigned by an unconditional top-level statement or by
every branch of a complete `if` chain (or, for a name used only inside one branch of a
top-level `if`, inside that branch), never a forward input, and only before a later
statement that makes a value.
"""

from __future__ import annotations

import ast
from collections.abc import Set as AbstractSet
from functools import lru_cache

from .comparisons import is_negation
from .model import Cases, is_declaration
from .results import Checked

DEL_WIDTH = 99 - 8  # layout.WIDTH less forward's indent
# methods whose result may share its input's storage (reshape copies only sometimes)
_ALIASING = {"view", "reshape", "permute", "transpose", "squeeze", "unsqueeze", "expand",
             "flatten", "unflatten", "chunk", "split", "unbind", "narrow", "select",
             "movedim", "contiguous", "view_as", "expand_as", "t", "mT", "unfold"}
# a merge of dims (or `contiguous`) after one of these in the same chain copies, but where
# the dims moved have size 1: its result is taken as a new tensor (if it is a view after
# all, deleting the source's names early frees nothing and harms nothing)
_MERGING = {"reshape", "flatten", "contiguous"}
_MOVING = {"permute", "transpose", "movedim", "swapaxes", "t", "mT"}


def value_names(checked: Checked) -> tuple[set[str], set[str]]:
    """(the names forward binds to node values, those of them that are large).

    Dims are never among them. Small is one tensor with at most two dims other than 1 (a
    pooled vector or a gate per sample) in a forward that also makes larger values: freeing
    it early saves little next to them. Where every value is that small (CBAM's channel
    MLP), they are the peak, and each is freed like a large one.
    """
    # a declared layer (`apply:` calls it) binds no value in forward
    names = {n for n, node in checked.spec.nodes.items() if not is_declaration(node)}
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


# a comprehension or lambda: its own scope
Scope = ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp


class Forward:
    """A forward body parsed once, as `def forward():` (line k of the tree is flat[k - 2]),
    with the Name nodes of every statement (its nested blocks' included) and the
    comprehensions and lambdas, found in one walk of the tree. `body` is None for lines
    that do not parse (a bug upstream: render's compile check reports it, located)."""

    def __init__(self, lines: tuple[str, ...]) -> None:
        self.flat = [part for line in lines for part in line.split("\n")]
        self.scopes: list[Scope] = []
        self._names: dict[int, list[ast.Name]] = {}  # id(statement) -> its Name nodes
        self.body: list[ast.stmt] | None = None
        try:
            tree = ast.parse("def forward():\n" + "\n".join("    " + line for line in self.flat))
        except SyntaxError:
            return
        self.body = tree.body[0].body  # type: ignore[attr-defined]
        self._walk(tree, [])

    def _walk(self, node: ast.AST, found: list[ast.Name]) -> None:
        if isinstance(node, ast.Name):
            found.append(node)
            return
        if isinstance(node, Scope):
            self.scopes.append(node)
        inner = [] if isinstance(node, ast.stmt) else found
        for child in ast.iter_child_nodes(node):
            self._walk(child, inner)
        if inner is not found:
            self._names[id(node)] = inner
            found.extend(inner)

    def name_nodes(self, stmt: ast.stmt) -> list[ast.Name]:
        """The Name nodes of a statement of `body` (at any depth)."""
        return self._names[id(stmt)]

    def names(self, stmt: ast.stmt) -> set[str]:
        """The names a statement reads or binds."""
        return {n.id for n in self._names[id(stmt)]}


def parse_forward(lines: list[str]) -> Forward:
    """`lines` (a forward body at indent 0) parsed; accumulate.py and with_dels read the
    same lines where no sum is split, so the last few are kept (read only)."""
    return _parsed(tuple(lines))


@lru_cache(maxsize=4)
def _parsed(lines: tuple[str, ...]) -> Forward:
    return Forward(lines)


def with_dels(lines: list[str], inputs: set[str], values: set[str], big: set[str]) -> list[str]:
    """`lines` (a forward body at indent 0) with `del` lines for the values no longer read.

    `inputs` are forward's parameters (their storage is the caller's); `values` the names
    that may be deleted (the spec's node values; not dims, not loop variables); `big` those
    of them worth freeing before they are made (more than a vector per sample). A value dead
    after statement i is deleted just before the next statement that binds a value (a
    small dead value: a `big` value), so consecutive deaths share one line and nothing is
    deleted before the return. A name used only inside one branch of a top-level `if` is
    deleted inside it, at the branch's end if nothing there follows but the code after the
    `if` makes a value.
    """
    forward = parse_forward(lines)
    flat, body = forward.flat, forward.body
    if body is None:
        return list(flat)
    values = values - _captured(forward.scopes)
    dels: dict[tuple[int, int], list[str]] = {}  # (flat line, indent) -> names deleted
    bound: dict[str, int] = {}  # for the order of a del line: as the code binds them
    makes = _plan(forward, body, values, values, big, inputs, False, dels, bound)
    used = [forward.names(stmt) for stmt in body]
    for i, stmt in enumerate(body):
        if not isinstance(stmt, ast.If):
            continue
        tail = any(makes[i + 1:])  # a value made after the `if`: free the branch's first
        elsewhere = set().union(*used[:i], *used[i + 1:],
                                (n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)))
        for branch, other in ((stmt.body, stmt.orelse), (stmt.orelse, stmt.body)):
            inside = set().union(*map(forward.names, branch))
            outside = elsewhere.union(*map(forward.names, other))
            local = (inside - outside) & values
            if local:
                _plan(forward, branch, local, values, big, inputs, tail, dels, bound)
        carried = _carried_into(body, i, used) & values
        if carried:  # bound under the same test before: freed in this branch
            _plan(forward, stmt.body, carried, values, big, inputs, tail, dels, bound,
                  bound_before=carried)
    if not dels:
        return list(flat)
    at_line: dict[int, list[int]] = {}  # flat line -> the indents of its del lines
    for at, col in dels:
        at_line.setdefault(at, []).append(col)
    out: list[str] = []
    for n, line in enumerate([*flat, ""]):  # a branch's end comes before the code after it
        for col in sorted(at_line.get(n, ()), reverse=True):
            names = sorted(dels[n, col], key=lambda m: (bound[m], m))  # as the code binds
            out += [" " * col + d for d in _del_lines(names, DEL_WIDTH - col)]
        out.append(line)
    return out[:-1]


def _plan(forward: Forward, body: list[ast.stmt], deletable: set[str], values: set[str],
          big: set[str], inputs: set[str], tail: bool,
          dels: dict[tuple[int, int], list[str]], bound: dict[str, int], *,
          bound_before: AbstractSet[str] = frozenset()) -> list[bool]:
    """Add to `dels` the `del`s of one block's `deletable` names (bound by its own
    statements, or `bound_before` it wherever the block runs); `tail`: at the block's end
    when nothing in it follows. Returns, per statement, whether it binds a value."""
    # name -> first statement of the block that binds it (-1: before the block)
    first_bound: dict[str, int] = dict.fromkeys(bound_before, -1)
    for name in bound_before:  # the order of a del line: before the block's own
        bound.setdefault(name, body[0].lineno - 1)
    last_read: dict[str, int] = {}
    makes, makes_big = [], []  # per statement: whether it binds a value, a big value
    alias = _Aliases()
    deleted: set[str] = set()
    flat = forward.flat
    for i, stmt in enumerate(body):
        stored = set()
        for node in forward.name_nodes(stmt):
            if isinstance(node.ctx, ast.Load):
                last_read[node.id] = i
            elif isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            else:  # a `del` the emitter wrote (a loop's carried start): unbound already
                deleted.add(node.id)
        makes.append(bool(stored & values))
        makes_big.append(bool(stored & big))
        if isinstance(stmt, ast.Assign):
            for name in _target_names(stmt.targets):
                first_bound.setdefault(name, i)
                bound.setdefault(name, stmt.lineno)
                source = _aliased_source(stmt.value)
                if source is not None:
                    alias.join(name, source)
        elif isinstance(stmt, ast.If):
            for name, sources in _bound_in_every_branch(stmt).items():
                first_bound.setdefault(name, i)
                bound.setdefault(name, stmt.lineno)
                for source in sources:
                    alias.join(name, source)
    groups: dict[str, list[str]] = {}
    for name in set(first_bound) | set(last_read):
        groups.setdefault(alias.find(name), []).append(name)
    col = body[0].col_offset - 4  # the parsed text's `def forward():` adds 4
    for members in groups.values():
        if inputs & set(members):
            continue  # the caller's storage: deleting our names frees nothing
        end = max(last_read.get(m, first_bound.get(m, -1)) for m in members)
        frees = makes if big & set(members) else makes_big
        later = next((j for j in range(end + 1, len(body)) if frees[j]),
                     len(body) if tail else None)
        names = [m for m in members if m in deletable and m in first_bound
                 and m not in deleted]
        if end < 0 or later is None or not names:
            continue
        if later < len(body):  # above the statement's own comment lines
            at = body[later].lineno - 2  # line k of the parsed text is flat[k - 2]
            while at > 0 and flat[at - 1].lstrip().startswith("#"):
                at -= 1
        else:
            at = (body[-1].end_lineno or body[-1].lineno) - 1
        dels.setdefault((at, col), []).extend(names)
    return makes


def _carried_into(body: list[ast.stmt], j: int, used: list[set[str]]) -> set[str]:
    """The names an earlier top-level `if T:` (no else) binds that only statement j, an
    `if T:` with the same test (the emitter's cases after `when` nodes of one condition:
    MBConv's `_bn0`), reads after it, in its first branch only: wherever that branch runs,
    the earlier one ran, so they are bound there and dead after their last read in it."""
    stmt = body[j]
    assert isinstance(stmt, ast.If)
    test = ast.dump(stmt.test)
    first = set().union(*(_block_names(part) for part in stmt.body))
    rest = set().union(*used[j + 1:], *(_block_names(part) for part in stmt.orelse),
                       (n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)))
    carried: set[str] = set()
    for i in range(j):
        earlier = body[i]
        if isinstance(earlier, ast.If) and not earlier.orelse \
                and ast.dump(earlier.test) == test:
            binds = {n for part in earlier.body if isinstance(part, ast.Assign)
                     for n in _target_names(part.targets)}
            others = set().union(*used[:i], *used[i + 1:j])
            carried |= (binds & first) - rest - others
    return carried


def _block_names(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}


def _bound_in_every_branch(stmt: ast.If) -> dict[str, list[str]]:
    """The names that every branch of a complete `if`/`elif`/`else` chain assigns (an
    `elif not c` after `if c` completes it), each with the names it may share storage with;
    {} when some path assigns nothing."""
    branches, node = [], stmt
    while True:
        branches.append(node.body)
        rest = node.orelse
        if len(rest) == 1 and isinstance(rest[0], ast.If):
            last = rest[0]
            if not last.orelse and is_negation(last.test, node.test):
                branches.append(last.body)
                break
            node = last
        elif rest:
            branches.append(rest)
            break
        else:
            return {}
    found: list[dict[str, list[str]]] = []
    for branch in branches:
        names: dict[str, list[str]] = {}
        for part in branch:
            if isinstance(part, ast.Assign):
                source = _aliased_source(part.value)
                for name in _target_names(part.targets):
                    names.setdefault(name, []).extend([source] if source else [])
        found.append(names)
    common = set.intersection(*(set(names) for names in found))
    return {n: [s for names in found for s in names[n]] for n in sorted(common)}


def _captured(scopes: list[Scope]) -> set[str]:
    """Names read inside a comprehension or lambda: Python makes them closure cells, and
    `del` of a cell (DELETE_DEREF) is a graph break under torch.compile(fullgraph=True).
    A comprehension's first iterable (`zip(self.convs, parts)`) runs in forward's own
    scope: its names stay plain locals."""
    names = set()
    for scope in scopes:
        if isinstance(scope, ast.Lambda):
            names |= {n.id for n in ast.walk(scope) if isinstance(n, ast.Name)}
        else:
            first = {id(m) for m in ast.walk(scope.generators[0].iter)}
            names |= {n.id for n in ast.walk(scope) if isinstance(n, ast.Name)
                      and id(n) not in first}
    return names


def _del_lines(names: list[str], width: int = DEL_WIDTH) -> list[str]:
    """`del a, b, ...` lines that fit `width` (forward's body: 99 columns at 8 spaces): a
    wrapped `del (a, b)` would read as deleting a tuple."""
    lines = [f"del {names[0]}"]
    for name in names[1:]:
        if len(lines[-1]) + 2 + len(name) > width:
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
    """The name whose storage `value` may share: `x`, `x[i]`, `x.view(...)`, `x.mT`; None
    for a new tensor, such as `x.transpose(1, 2).flatten(2)` (_MERGING)."""
    merged = False
    while True:
        if isinstance(value, ast.Name):
            return value.id
        method = None
        if isinstance(value, ast.Subscript):
            value = value.value
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                and isinstance(value.func.value, ast.Name) and value.func.value.id == "self":
            return None  # a layer's call (`self.unfold(x)`, an nn.Unfold), not a view method
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                and value.func.attr in _ALIASING:
            method, args, value = value.func.attr, value.args, value.func.value
            if isinstance(value, ast.Name) and value.id == "torch" and args:
                value = args[0]  # torch.chunk(x, ...): x's storage
        elif isinstance(value, ast.Attribute) and value.attr in _ALIASING:
            method, value = value.attr, value.value
        else:
            return None
        if merged and method in _MOVING:
            return None
        merged = merged or method in _MERGING


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
