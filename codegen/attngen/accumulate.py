"""Sum as you go: split forward's `s = a + b + c` so each operand is added once it exists,
and sum a list made only to be summed as its items are made (`sum(f(x) for f in fs)`).

An n-ary `add` (or `mul`) node is one statement after all its operands are made, so every
operand is alive at once, with the running sum on top: ParNet's three full-size branch
maps made 5 live maps where the hand-written `conv1x1(x) + conv3x3(x) + gate * x` holds 3.
This moves the running sum up: `s = a + b` right after the statement that makes the later
of `a` and `b`, `s = s + c` after the one that makes `c`, and so on; `lifetimes` then frees
each operand after its partial sum. The operands are added in the same order as before,
((a + b) + c), so every value is bit for bit what the single statement computed.

Split only where it cannot raise the peak: every operand has the sum's shape (a
broadcast `x * gate_w * gate_h` would make a full-size partial early) and, but for a
first operand that is a forward input (the caller's storage), is read by nothing but
the sum, so each partial sum replaces operands that die with it. Like lifetimes.py this
reads the emitted lines with Python's `ast` (generated code, never spec text).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from .graph import readers
from .lifetimes import parse_forward
from .model import FunctionOp
from .results import Checked

Shapes = Callable[[str], object]  # a name -> its shape (a tuple of dims), or None if unknown

_OPS = {ast.Add: "+", ast.Mult: "*"}


def accumulated(lines: list[str], inputs: set[str], shape: Shapes) -> list[str]:
    """`lines` (a forward body at indent 0) with each eligible n-ary sum split (above).

    `inputs` are forward's parameters; `shape(name)` a value's shape (`shapes(checked)`).
    """
    forward = parse_forward(lines)
    flat, body = forward.flat, forward.body
    if body is None:
        return list(flat)
    stores: list[set[str]] = []
    loads: list[set[str]] = []
    for stmt in body:
        names = forward.name_nodes(stmt)
        stores.append({n.id for n in names if not isinstance(n.ctx, ast.Load)})
        loads.append({n.id for n in names if isinstance(n.ctx, ast.Load)})
    after: dict[int, list[str]] = {}  # statement index -> partial sums inserted after it
    replaced: dict[int, str] = {}  # line index -> the sum's last step
    for i, stmt in enumerate(body):
        split = _split(stmt, i, stores, loads, inputs, shape)
        if split is None:
            continue
        steps, last = split
        for j, text in steps:
            after.setdefault(j, []).append(text)
        replaced[stmt.lineno - 2] = last  # line k of the parsed text is flat[k - 2]
    dropped = set()  # line indexes of lists that a generator sum now makes as it adds
    for i, (made, summed) in enumerate(zip(body, body[1:], strict=False)):
        generated = _generator_sum(made, summed, i, stores, loads, flat)
        if generated is not None:
            dropped.add(made.lineno - 2)
            replaced[summed.lineno - 2] = generated
    if not replaced:
        return list(flat)
    ends = {(body[j].end_lineno or body[j].lineno) - 2: texts for j, texts in after.items()}
    out: list[str] = []
    for n, line in enumerate(flat):
        if n not in dropped:
            out.append(replaced.get(n, line))
        out += ends.get(n, [])
    return out


def _generator_sum(made, summed, i, stores, loads, flat: list[str]) -> str | None:
    """`s = sum(a)` right after `a = [f(x) for f in fs]`, where nothing else reads `a`, as
    `s = sum(f(x) for f in fs)`: each item is added as it is made, as a hand-written
    `sum(...)` of a generator does, instead of all being alive at once (the same values, the
    same order of calls and additions: ((0 + a0) + a1) + ...). None where that is not so."""
    if not (_assigns(made) and _assigns(summed) and isinstance(made.value, ast.ListComp)):
        return None
    name, call = made.targets[0].id, summed.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "sum" and not call.keywords and len(call.args) == 1
            and isinstance(call.args[0], ast.Name) and call.args[0].id == name):
        return None
    if any(name in loads[j] or name in stores[j] for j in range(len(loads))
           if j not in (i, i + 1)) or name == summed.targets[0].id:
        return None
    comp = made.value  # one line: its end column is known
    items = flat[made.lineno - 2][comp.col_offset - 4 + 1:(comp.end_col_offset or 0) - 4 - 1]
    return f"{summed.targets[0].id} = sum({items})"


def _assigns(stmt: ast.stmt) -> bool:
    """`name = value` on one line."""
    return (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.lineno == stmt.end_lineno)


def _split(stmt, i, stores, loads, inputs, shape) -> tuple[list[tuple[int, str]], str] | None:
    """([(statement index, partial sum put after it)], the statement's new text), or None."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.lineno == stmt.end_lineno):
        return None
    target = stmt.targets[0].id
    chain = _operands(stmt.value)
    if chain is None or len(chain[1]) < 3 or target in chain[1]:
        return None
    op, leaves = chain
    size = shape(target)
    if size is None or any(shape(leaf) != size for leaf in leaves
                            if not (leaf == leaves[0] and leaf in inputs)):
        return None
    if any(target in loads[j] | stores[j] for j in range(i)):
        return None
    made = []  # the statement that last binds each operand before the sum (-1: none)
    for k, leaf in enumerate(leaves):
        if leaf in inputs and k > 0:
            return None  # never freed: an early partial sum would only add to the peak
        j = max((j for j in range(i) if leaf in stores[j]), default=-1)
        if leaf not in inputs and (j < 0 or any(leaf in loads[m] for m in range(j + 1, len(stores))
                                                if m != i)):
            return None  # read elsewhere too: the partial sum would not replace it
        made.append(j)
    steps: list[tuple[int, str]] = []
    at, group = max(made[0], made[1]), leaves[:2]
    for leaf, j in zip(leaves[2:], made[2:], strict=True):
        if j > at:  # this operand comes later: add what exists now
            steps.append((at, _sum(target, op, group)))
            at, group = j, [target, leaf]
        else:
            group.append(leaf)
    if not steps:
        return None
    return steps, _sum(target, op, group)


def _operands(value: ast.expr) -> tuple[str, list[str]] | None:
    """(the operator, the names) of a left-nested `a + b + c` (or `*`) of plain names."""
    leaves: list[str] = []
    op = None
    while isinstance(value, ast.BinOp) and type(value.op) in _OPS:
        if op not in (None, type(value.op)) or not isinstance(value.right, ast.Name):
            return None
        op = type(value.op)
        leaves.insert(0, value.right.id)
        value = value.left
    if op is None or not isinstance(value, ast.Name):
        return None
    return _OPS[op], [value.id, *leaves]


def _sum(target: str, op: str, names: list[str]) -> str:
    return f"{target} = {f' {op} '.join(names)}"


def summable_lists(checked: Checked) -> set[str]:
    """The list-valued nodes whose one reader is a sum of that list alone (`add` with one
    input): those a generator sum may make as it adds (`_generator_sum`), so that no
    variable holds them (verify checks the sum's shape for them)."""
    spec, read_by = checked.spec, readers(checked.spec)
    found = set()
    for name, info in checked.nodes.items():
        users = [spec.nodes[n] for n in read_by.get(name, [])]
        if isinstance(info.output, list) and len(users) == 1 and len(users[0].inputs) == 1 \
                and isinstance(users[0].form, FunctionOp) and users[0].form.op == "add":
            found.add(name)
    return found


def shapes(checked: Checked) -> Shapes:
    """The checker's shape of a value: a tuple of dims (None: unknown, or not one tensor)."""
    return checked.shape
