"""Loops: what `each:` repeats over, of a node or of a `seq:` layer, and `zip:`.

An iterable is a list expression (`kernels`, `[1, 3, 5]`) or `range(...)` over params and
lets. The checker expands every loop at concrete values: a list param takes its default,
and an int param that bounds a `range` (directly, through a let or through the sub-spec it
is passed to; a let's list comprehension's too) is checked at its default (`bounds`), so a
count of copies and the shapes that depend on it (`cat` of `num_layers` maps) are exact
numbers; so is a loop body's variable in the body's own check.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from .errors import BAD_ARGUMENTS, Loc, error
from .expr import Expr, comprehension_reads, is_range
from .model import Item, Loop, Node, Repeat, Seq, Spec, Stack, SubSpec, cases_of, unwrapped

MAX_ITEMS = 64  # copies of one loop


def node_loops(node: Node) -> Iterator[Loop]:
    """Every loop of a node: its `each:` (or its cases') and its seq layers'."""
    for body in [node, *cases_of(node)]:
        yield from body_loops(body)


def body_loops(body: Node) -> Iterator[Loop]:
    """The loops of one node or case, outermost first (they nest)."""
    if isinstance(body.form, Repeat | Stack):
        yield Loop(body.form.var, body.form.iterable)
    called = unwrapped(body.form)
    if isinstance(called, Seq):
        yield from (i.each for i in called.items if i.each is not None)


_BOUNDS: dict[int, tuple[Spec, frozenset[str]]] = {}  # id -> (the spec, its bounds)


def bounds(spec: Spec) -> frozenset[str]:
    """The int params a `range` bound reads, through lets and sub-spec arguments: the
    checker takes them at their defaults, like the length of a list param. Computed once
    per spec object (a sub-spec shared along a `use:` diamond is walked once); the entry
    holds the spec, so its id cannot be reused while cached."""
    hit = _BOUNDS.get(id(spec))
    if hit is None or hit[0] is not spec:
        if len(_BOUNDS) >= 256:
            _BOUNDS.clear()
        hit = _BOUNDS[id(spec)] = (spec, _bounds(spec))
    return hit[1]


def _bounds(spec: Spec) -> frozenset[str]:
    found: set[str] = set()
    names: list[str] = [n for node in spec.nodes.values() for loop in node_loops(node)
                        if is_range(loop.iterable.tree) for n in loop.iterable.names]
    names += [n for let in spec.lets.values() for n in comprehension_reads(let.expr)]
    names += [spec.loop_var] if spec.loop_var is not None else []  # a body's, at its first item
    if spec.loop_over is not None and is_range(spec.loop_over.tree):  # and its count
        names += list(spec.loop_over.names)
    for node in spec.nodes.values():
        for sub in _sub_calls(node):
            inner = bounds(sub.spec)
            names += [n for p, arg in sub.args.items() if p in inner for n in arg.names]
    while names:
        name = names.pop()
        if name in found:
            continue
        found.add(name)
        if name in spec.lets:
            names += list(spec.lets[name].expr.names)
    return frozenset(n for n in found if n in spec.params and spec.params[n].type == "int")


def _sub_calls(node: Node) -> Iterator[SubSpec]:
    for body in [node, *cases_of(node)]:
        called = unwrapped(body.form)
        if isinstance(called, SubSpec):
            yield called
        elif isinstance(called, Stack):
            yield called.body
        elif isinstance(called, Seq):
            yield from (i.form for i in called.items if isinstance(i.form, SubSpec))


def items_of(value: object, iterable: Expr, loc: Loc | None = None) -> list:
    """The concrete items of a loop; a located error if they are no list or too many."""
    if not isinstance(value, (list, tuple)):
        raise error(loc or iterable.loc, BAD_ARGUMENTS, f"'each' needs a list, got {value!r}",
                    "a list param, a let, a list literal or range(n)")
    if len(value) > MAX_ITEMS:
        raise error(loc or iterable.loc, BAD_ARGUMENTS, f"'each' over {len(value)} items "
                    f"(at most {MAX_ITEMS})")
    return list(value)


def after_last(node: Node, count: int, value_of: Callable[[Expr], object]) -> object:
    """The variable of a loop body after the last of its `count` copies, where its `shape:`
    reads it (None elsewhere): the number one more step of its `range(...)` gives (the
    start where there are no copies). The node's value has the shape at this number.
    `value_of` computes a range argument."""
    stack = node.form
    assert isinstance(stack, Stack)
    if stack.var is None or not any(stack.var in d.names for d in node.shape or ()):
        return None
    iterable = stack.iterable
    assert is_range(iterable.tree)  # the parser's rule where the shape reads the variable
    args = iterable.tree.args  # type: ignore[attr-defined]

    def value(arg: ast.expr) -> object:  # a part of the checked iterable's tree
        return value_of(Expr(ast.unparse(arg), arg, iterable.loc))

    start = value(args[0]) if len(args) > 1 else 0
    step = value(args[2]) if len(args) == 3 else 1
    return start + step * count  # type: ignore[operator]


def binding(var: str | None, item: object, extra: dict | None = None) -> dict:
    """The names a copy's arguments see: the outer loop's and its own variable."""
    out = dict(extra or {})
    if var is not None:
        out[var] = item
    return out


def list_hint(node: Node, ins: list, names: list[str]) -> str | None:
    """For an `each` node given a list where a tensor is needed: the fix (`zip:`), or None
    when the node reads no list."""
    lists = [n for n, x in zip(names, ins, strict=False) if isinstance(x, list)]
    if not lists:
        return None
    if len(ins) == 1:
        return (f"to give copy i of '{node.name}' the i-th tensor of '{lists[0]}', write "
                f"'zip: {lists[0]}' in place of 'in: {lists[0]}' (one copy per tensor: "
                f"{len(ins[0])})")
    return (f"'zip:' gives each copy one tensor of one list: read '{lists[0]}' alone "
            "('zip: NAME'), or combine it first (cat, stack, add)")


def zip_tensors(node: Node, body: Node, value: object, count: int, when: str) -> list:
    """The tensors of a `zip:` list, one per copy of the node, or a located error (`when`:
    the configuration, for the message)."""
    ref = body.inputs[0]
    if not isinstance(value, list):
        raise error(ref.loc, BAD_ARGUMENTS, f"node '{node.name}': 'zip: {ref.name}' names one "
                    "tensor, not a list of tensors", "zip reads a list: an 'each' or 'map' "
                    "node, or 'split'/'chunk' without 'out:'; for one tensor read by every "
                    f"copy write 'in: {ref.name}'")
    if len(value) != count:
        each = body.form
        assert isinstance(each, Repeat)
        raise error(ref.loc, BAD_ARGUMENTS, f"node '{node.name}' has {count} copies ('each: "
                    f"{each.iterable.text}') but '{ref.name}' holds {len(value)} tensors" + when,
                    "each copy reads one tensor of the list: make the counts equal")
    return list(value)


def seq_layers(items: list[Item], extra: dict, concrete: Callable[[Expr, dict], object]
               ) -> Iterator[tuple[Item, dict]]:
    """(layer, the names its arguments see) of a `seq:` in order: a layer with `when` only
    where it holds (`concrete` decides it), a layer with `each` once per item."""
    for item in items:
        if item.when is not None and not concrete(item.when, extra):
            continue
        if item.each is None:
            yield item, extra
            continue
        loop = item.each
        for value in items_of(concrete(loop.iterable, extra), loop.iterable):
            yield item, binding(loop.var, value, extra)


def check_keys(items: list[Item], extra: dict, concrete: Callable[[Expr, dict], object]
               ) -> None:
    """A named seq's keys at these values: a plain name always (an nn.Identity() where its
    `when` fails), a templated one (`fc1_{i}`) once per copy where its `when` holds; none
    twice. (No key holds a '.': a template's text is identifier characters, its names in
    braces whole numbers, `_whole`.)"""
    seen: dict[str, Item] = {}
    for item in items:
        if not item.key:
            keys = [item.name]
        elif item.when is not None and not concrete(item.when, extra):
            continue
        else:
            copies = [extra] if item.each is None else [
                binding(item.each.var, value, extra)
                for value in items_of(concrete(item.each.iterable, extra), item.each.iterable)]
            keys = ["".join(p if isinstance(p, str) else _whole(item, p, concrete(p, names))
                            for p in item.key) for names in copies]
        for key in keys:
            if key in seen:
                raise error(item.loc, BAD_ARGUMENTS, f"layer '{item.name}' makes the key "
                            f"'{key}', which layer '{seen[key].name}' has already: one would "
                            "replace the other")
            seen[key] = item


def _whole(item: Item, part: Expr, value: object) -> str:
    """A templated name's part in braces: a whole number (so a key holds no '.', and two
    templates meet only where check_template_keys refuses them)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(item.loc, BAD_ARGUMENTS, f"layer '{item.name}': '{part.text}' is "
                    f"{value!r}; a name in braces must be a whole number (a loop's index, an "
                    "int param)")
    return str(value)
