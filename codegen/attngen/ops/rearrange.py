"""rearrange: an einops pattern ('b (g c) h w -> (b g) c h w', sizes {g: groups}) checked
symbolically and written as plain torch calls (generated code imports only torch).

The pattern is read by patterns.py, never run. The shape rule proves what the pattern
relies on through the ShapeCtx: the left side has the input's rank, a split dim is
divisible by the sizes given for its parts, a `1` is a size-1 dim. Its errors point into
the pattern (ShapeFail.at). The emitted call is the shortest clear chain of
`squeeze`, `unflatten`, `permute`/`transpose`/`movedim`, `flatten` and `unsqueeze`, or one
`view`/`reshape` where that is shorter: `view` only where it cannot fail (a split, a size-1
dim added or removed: valid for any memory layout), `reshape` or `flatten` wherever dims
merge (a view of merged dims fails at run time after a permute, or on a strided input).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from math import prod

from ..errors import BAD_ARGUMENTS, did_you_mean
from .base import ANY_DTYPE, KEEPS, STRIDED, Arg, CallSite, Op, register
from .ctx import ShapeCtx, ShapeFail
from .patterns import ELLIPSIS, Axis, Group, Pattern, PatternError, parse_pattern


@contextmanager
def _at(arg: str, col: int) -> Iterator[None]:
    """A ShapeFail raised inside is located at column `col` of argument `arg`."""
    try:
        yield
    except ShapeFail as exc:
        if exc.at is None:
            exc.at = (arg, col)
        raise


def read(ctx: ShapeCtx, text: str) -> Pattern:
    try:
        return parse_pattern(text)
    except PatternError as exc:
        raise ShapeFail(f"pattern '{text}': {exc}", BAD_ARGUMENTS, at=("pattern", exc.col)) \
            from None


def _left_dims(pattern: Pattern, rank: int) -> list[tuple[Group, int]]:
    """Each left group that is not the ellipsis, with the input dim it reads."""
    left = pattern.left
    ell = next((i for i, g in enumerate(left) if g.named == (ELLIPSIS,)), None)
    return [(g, i if ell is None or i < ell else rank - (len(left) - i))
            for i, g in enumerate(left) if i != ell]


def _rearrange(ctx: ShapeCtx, ins, a):
    text, x = a["pattern"], ins[0]
    pattern = read(ctx, text)
    given = dict(a["sizes"] or ())
    axes = pattern.names(pattern.left)
    for name in given:
        if name not in axes:
            raise ShapeFail(f"'sizes' gives '{name}', which is no axis of the pattern '{text}'"
                            + did_you_mean(name, [n for n in axes if n != ELLIPSIS]),
                            BAD_ARGUMENTS, at=("sizes", 0))
    with _at("sizes", 0):
        ctx.sizes(tuple(given.values()), "the sizes given in 'sizes'")
    has_ell = ELLIPSIS in axes
    n = len(pattern.left) - has_ell
    if (len(x) < n) if has_ell else (len(x) != n):
        raise ShapeFail(f"the left side of pattern '{text}' names {n}"
                        f"{' or more' if has_ell else ''} dims; the input has {len(x)}",
                        at=("pattern", 0))
    size: dict[str, object] = {}
    ell: tuple = ()
    if has_ell:
        first = next(i for i, g in enumerate(pattern.left) if g.named == (ELLIPSIS,))
        ell = tuple(x[first:first + len(x) - n])
    for group, d in _left_dims(pattern, len(x)):
        names = group.named
        where = f"dim {d} of the input ('{group.text}' in the pattern)"
        with _at("pattern", group.col):
            if not names:
                ctx.eq(x[d], 1, f"dim {d} of the input", f"the size of '{group.text}'")
            elif len(names) == 1:
                if names[0] in given:
                    ctx.eq(x[d], given[names[0]], where, f"the size given for '{names[0]}'")
                size[names[0]] = x[d]
            else:
                unknown = [nm for nm in names if nm not in given]
                if len(unknown) > 1:
                    raise ShapeFail(
                        f"'{group.text}' splits dim {d} into axes of unknown size "
                        f"({', '.join(unknown)}): give the sizes of all but one in 'sizes'",
                        BAD_ARGUMENTS,
                        ("for example sizes: {"
                         + ", ".join(f"{u}: ..." for u in unknown[:-1]) + "}",))
                known = prod(given[nm] for nm in names if nm in given)
                if unknown:
                    size[unknown[0]] = ctx.exact_div(x[d], known, where)
                else:
                    ctx.eq(known, x[d], f"the product of the sizes of '{group.text}'", where)
                size.update((nm, given[nm]) for nm in names if nm in given)
    out: list = []
    for group in pattern.right:
        if group.named == (ELLIPSIS,) and not group.composite:
            out.extend(ell)
            continue
        if group.named == (ELLIPSIS,) and not ell:
            raise ShapeFail(f"'{group.text}' merges the dims of '...', which stands for none "
                            "here: write '()' for a dim of size 1", BAD_ARGUMENTS,
                            at=("pattern", group.col))
        out.append(prod(prod(ell) if nm == ELLIPSIS else size[nm] for nm in group.named))
    return tuple(out)


# -- emit ------------------------------------------------------------------------------------
_ATOM = re.compile(r"[\w.]+(\[-?\d+\])?|-?\d+")


def _atom(text: str) -> str:
    """`text` as an operand of `*` or `//`."""
    return text if _ATOM.fullmatch(text) else f"({text})"


def _product(parts: list[str]) -> str:
    return " * ".join(_atom(p) for p in parts) if parts else "1"


class _Layout:
    """The dims of the tensor being rearranged, as the chain of calls changes them: axis
    names, ELLIPSIS (a block of dims of unknown count), a left group not yet split, None
    (a size-1 dim to drop or just added) or a tuple of merged names. Indices before the
    ellipsis count from the start, after it from the end, so they hold at every rank."""

    def __init__(self, items: list) -> None:
        self.items = items

    def start(self, i: int) -> int:
        if ELLIPSIS in self.items and i > self.items.index(ELLIPSIS):
            return i - len(self.items)
        return i

    def end(self, i: int) -> int:
        """The index of the last dim of item `i`."""
        return i - len(self.items) if self.items[i] == ELLIPSIS else self.start(i)


def _chain(pattern: Pattern, sizes: dict[str, str]) -> list[str]:
    """The method calls, in order, that rearrange a tensor as `pattern` says."""
    calls: list[str] = []
    items: list = []
    for g in pattern.left:
        items.append(None if not g.named else g.named[0] if len(g.named) == 1 else g)
    lay = _Layout(items)
    while None in items:  # size-1 dims of the left side
        i = items.index(None)
        calls.append(f".squeeze({lay.start(i)})")
        del items[i]
    for g in [g for g in items if isinstance(g, Group)]:  # splits
        i = items.index(g)
        parts = [sizes.get(nm, "-1") for nm in g.named]
        calls.append(f".unflatten({lay.start(i)}, ({', '.join(parts)}))")
        items[i:i + 1] = list(g.named)
    target = [nm for g in pattern.right for nm in g.named]
    if items != target:
        calls.append(_reorder(items, target))
        items[:] = target
    for g in pattern.right:  # merges
        names = list(g.named)
        if len(names) < 2 and not (g.composite and names == [ELLIPSIS]):
            continue
        i, j = items.index(names[0]), items.index(names[-1])
        start, end = lay.start(i), lay.end(j)
        calls.append(f".flatten({start})" if end == -1 or (
            ELLIPSIS not in items and end == len(items) - 1) else f".flatten({start}, {end})")
        items[i:j + 1] = [tuple(names)]
    for p, g in enumerate(pattern.right):  # size-1 dims of the right side
        if not g.named:
            items.insert(p, None)
            calls.append(f".unsqueeze({lay.start(p)})")
    return calls


def _reorder(items: list, target: list) -> str:
    """`.permute(...)`, or `.transpose(i, j)` for a swap; with an ellipsis (a rank only
    known at run time) `.movedim(...)` of the named axes, which keeps the others in order."""
    if ELLIPSIS not in items:
        perm = [items.index(t) for t in target]
        moved = [i for i, p in enumerate(perm) if p != i]
        if len(moved) == 2:
            return f".transpose({moved[0]}, {moved[1]})"
        return f".permute({', '.join(map(str, perm))})"
    src_lay, dst_lay = _Layout(items), _Layout(target)
    named = [t for t in target if t != ELLIPSIS]
    src = [src_lay.start(items.index(t)) for t in named]
    dst = [dst_lay.start(target.index(t)) for t in named]
    if len(named) == 1:
        return f".movedim({src[0]}, {dst[0]})"
    return f".movedim(({', '.join(map(str, src))}), ({', '.join(map(str, dst))}))"


def _one_call(x: str, pattern: Pattern, sizes: dict[str, str], merges: bool) -> str:
    """The rearrangement as one `view` (no dims merge) or `reshape`, sizes read from the
    input's shape and from `sizes`; for a pattern without ellipsis or reordering."""
    elem: dict[str, str] = {}
    for d, g in enumerate(pattern.left):
        if len(g.named) == 1:
            elem[g.named[0]] = f"{x}.shape[{d}]"
        elif g.named:
            known = [sizes[nm] for nm in g.named if nm in sizes]
            for nm in g.named:
                elem[nm] = sizes[nm] if nm in sizes else \
                    f"{x}.shape[{d}] // {_atom(_product(known))}"
    dims = [_product([elem[nm] for nm in g.named]) if len(g.named) > 1
            else elem[g.named[0]] if g.named else "1" for g in pattern.right]
    hole = next((i for i, d in enumerate(dims) if "//" in d),
                next((i for i, d in enumerate(dims) if " * " in d), None))
    if hole is not None:
        dims[hole] = "-1"
    return f"{x}.{'reshape' if merges else 'view'}({', '.join(dims)})"


def _keep_whole(pattern: Pattern) -> Pattern:
    """`pattern` with each left group that the right side keeps whole, in order inside one
    group, read as one axis: `b (h d) n -> b n (h d)` needs no split, only a transpose."""
    left, right = list(pattern.left), list(pattern.right)
    for li, g in enumerate(left):
        names = g.named
        if len(names) < 2:
            continue
        for ri, r in enumerate(right):
            run = r.named
            at = next((k for k in range(len(run) - len(names) + 1)
                       if run[k:k + len(names)] == names), None)
            if at is not None:
                unit = Axis(" ".join(names), g.col)
                left[li] = Group((unit,), g.col, False)
                axes = [Axis(n, r.col) for n in run[:at]] + [unit] + \
                    [Axis(n, r.col) for n in run[at + len(names):]]
                right[ri] = Group(tuple(axes), r.col, r.composite)
                break
    return Pattern(pattern.text, tuple(left), tuple(right))


def _emit(site: CallSite) -> str:
    x, text = site.ins[0], str(site.values["pattern"])
    pattern = _keep_whole(parse_pattern(text))  # checked by the shape rule
    sizes = site.entries.get("sizes", {})
    calls = _chain(pattern, sizes)
    chained = x + "".join(calls)
    if len(calls) < 2 or ELLIPSIS in pattern.names(pattern.left) or any(
            c.startswith((".permute", ".transpose")) for c in calls):
        return chained
    one = _one_call(x, pattern, sizes, any(c.startswith(".flatten") for c in calls))
    return one if len(one) < len(chained) else chained


def _layout(values: dict[str, object]) -> str:
    """Strided where the pattern reorders dims (the chain permutes, transposes or moves
    them), else the input's layout: splits, merges and size-1 dims keep it."""
    if not isinstance(values.get("pattern"), str):
        return STRIDED
    calls = _chain(_keep_whole(parse_pattern(str(values["pattern"]))), {})
    return STRIDED if any(c.startswith((".permute", ".transpose", ".movedim"))
                          for c in calls) else KEEPS


register(Op(
    "rearrange", "reshape", (Arg("pattern", "str"), Arg("sizes", "axis_sizes", ())),
    _rearrange, emit=_emit, dtype=ANY_DTYPE, layout=_layout,
    rule="einops: the left side names the input's dims (a group '(g c)' splits one, '1' or "
         "'()' is a size-1 dim, '...' any number), the right side the output's; every axis "
         "on both sides; a split dim divisible by the sizes given for its parts",
    summary="reorder, split and merge dims by an einops pattern "
            "('b (g c) h w -> (b g) c h w')",
    key_args=("pattern", "sizes"),
))
