"""Shape ops beyond views: expand, chunk, flatten, roll, flip, shift, select, index, pad,
unfold and fold.

Tensor functions here write their call with a Jinja template (tensor.py says what it
reads); `Unfold` and `Fold` are layers without parameters.
"""

from __future__ import annotations

import re
from math import prod

from ..errors import BAD_ARGUMENTS
from .base import (
    ANY_DTYPE,
    BY_KEYWORD,
    FRESH,
    KEEPS,
    STRIDED,
    Arg,
    CallSite,
    Dtypes,
    Op,
    by_keyword_but,
    register,
)
from .ctx import ShapeCtx, number
from .layers import flatten_shape
from .windows import window_count


def _expand(ctx: ShapeCtx, ins, a):
    x, sizes = ins[0], list(a["sizes"])
    if len(sizes) < len(x):
        ctx.fail(f"expand to {len(sizes)} dims of a {len(x)}-D input (give at least {len(x)})")
    lead = len(sizes) - len(x)  # new leading dims: sizes of their own, never -1
    out = []
    for i, size in enumerate(sizes):
        if ctx.is_minus_one(size):
            if i < lead:
                ctx.fail(f"size {i} is -1 for a new leading dim (-1 keeps an existing dim)")
            out.append(x[i - lead])
        else:  # an existing dim of size 1 repeats; any other keeps its size
            if i >= lead and x[i - lead] != 1:
                ctx.eq(size, x[i - lead], f"size {i}",
                       f"dim {i - lead} of the input (expand repeats only size-1 dims)")
            out.append(size)
    return tuple(out)


register(Op("expand", "reshape", (Arg("sizes", "shape"),), _expand, dtype=ANY_DTYPE,
            layout=STRIDED,
            call="{{ x }}.expand({{ sizes }})",
            rule="size-1 dims repeated to `sizes` (a view); -1 keeps a dim; new dims lead",
            summary="broadcast a tensor to a larger shape (no copy)", key_args=("sizes",)))


def _expand_as(ctx: ShapeCtx, ins, a):
    x, other = ins
    if len(other) < len(x):
        ctx.fail(f"expand_as a {len(other)}-D tensor from a {len(x)}-D input")
    lead = len(other) - len(x)
    for i, d in enumerate(x):
        if d != 1:  # only size-1 dims repeat
            ctx.eq(d, other[lead + i], f"dim {i} of input 0", f"dim {lead + i} of input 1")
    return tuple(other)


# dtype: input 0's (input 1 gives only the shape)
register(Op("expand_as", "reshape", (), _expand_as, arity=(2, 2),
            dtype=Dtypes(("any",), gives="first"),
            layout=STRIDED,
            call="{{ ins[0] }}.expand_as({{ ins[1] }})",
            rule="input 0 broadcast to the shape of input 1 (dims equal or 1)",
            summary="broadcast a tensor to another's shape (no copy)"))
register(Op("flatten", "reshape", (Arg("start_dim", "dim", 0), Arg("end_dim", "dim", -1)),
            flatten_shape, dtype=ANY_DTYPE, layout=KEEPS,
            call="torch.flatten({{ x }}" + BY_KEYWORD + ")",
            rule="merges dims start_dim..end_dim into one",
            summary="flatten dims into one", key_args=("start_dim", "end_dim")))


def _chunk(ctx: ShapeCtx, ins, a):
    x, n = ins[0], number(a["chunks"])
    d = ctx.axis(a["dim"], len(x))
    if n is None:
        ctx.fail(f"'chunks' must be a number ({a['chunks']} is not): it is the number of outputs "
                 "named in 'out:'", BAD_ARGUMENTS)
    size = number(x[d])
    if size is not None:  # torch's own rule: ceil-sized chunks, the last smaller
        step = -(-size // n)
        sizes = [min(step, size - s) for s in range(0, size, step)]
    else:
        sizes = [ctx.exact_div(x[d], n, f"dim {d} / chunks")] * n
    return [x[:d] + (s,) + x[d + 1:] for s in sizes]


register(Op("chunk", "reshape", (Arg("chunks", "int", low=1), Arg("dim", "dim", 0)), _chunk,
            multi_output=True, dtype=ANY_DTYPE, layout=STRIDED,
            call="torch.chunk({{ x }}, {{ chunks }}, dim={{ dim }})",
            rule="`chunks` (a number) equal parts of dim `dim`, which must divide evenly "
                 "unless it is a number (then torch's ceil-sized chunks)",
            summary="split a tensor into equal chunks", key_args=("chunks", "dim")))


def _pairs(ctx: ShapeCtx, a) -> list[tuple]:
    """roll's (shift, axis) pairs; `dims` null rolls the flattened tensor."""
    shifts, dims = a["shifts"], a["dims"]
    shifts = shifts if isinstance(shifts, tuple) else (shifts,)
    dims = dims if isinstance(dims, tuple) or dims is None else (dims,)
    if dims is not None and len(dims) != len(shifts):
        ctx.fail(f"{len(shifts)} shifts for {len(dims)} dims", BAD_ARGUMENTS)
    if dims is None and len(shifts) != 1:
        ctx.fail("roll without 'dims' takes one shift", BAD_ARGUMENTS)
    return list(zip(shifts, dims or (None,), strict=True))


def _roll(ctx: ShapeCtx, ins, a):
    for _, d in _pairs(ctx, a):
        if d is not None:
            ctx.axis(d, len(ins[0]))
    return ins[0]


register(Op("roll", "reshape", (Arg("shifts", "int_list"), Arg("dims", "dims", None)), _roll,
            dtype=ANY_DTYPE, layout=KEEPS,
            call="torch.roll({{ x }}, {{ shifts }}"
                 "{% if 'dims' in given %}, dims={{ dims }}{% endif %})",
            rule="shape unchanged; one shift per dim in `dims`",
            summary="roll elements along dims (circular shift)", key_args=("shifts", "dims")))


def _flip(ctx: ShapeCtx, ins, a):
    dims = a["dims"] if isinstance(a["dims"], tuple) else (a["dims"],)
    axes = [ctx.axis(d, len(ins[0])) for d in dims]
    if len(set(axes)) != len(axes):  # torch: "dims has duplicates"
        ctx.fail(f"dims {list(dims)} name a dim twice", BAD_ARGUMENTS)
    return ins[0]


register(Op("flip", "reshape", (Arg("dims", "dims"),), _flip, dtype=ANY_DTYPE, layout=KEEPS,
            call="{{ x }}.flip({{ dims }})",
            rule="shape unchanged; the order of the elements along each dim in `dims` "
                 "reversed (a copy, in its input's memory layout)",
            summary="reverse the order along dims (`x[..., (1, 0)]` of two: `dims: -1`)",
            key_args=("dims",)))


def _at_dim(x: str, dim: int, part: str) -> str:
    """`x[:, part]`: `x` indexed by `part` (a slice `a:b` or an index) along the literal
    dim `dim`, counted from the end (`x[..., part]`) where it is negative."""
    at = [":"] * dim + [part] if dim >= 0 else ["...", part] + [":"] * (-dim - 1)
    return f"{x}[{', '.join(at)}]"


def along(x: str, dim: object, dim_src: str, start: str, stop: str, step: str = "") -> str:
    """The source of `x` indexed by `start:stop` or `start:stop:step` (sources; "" an open
    end, no step) along one dim: `x[:, a:b]` (or `x[..., a:b]` counting from the end) for a
    literal dim `dim`; for a dim given by a param (`dim_src`) the index is built at run
    time."""
    if isinstance(dim, int):
        return _at_dim(x, dim, f"{start}:{stop}" + (f":{step}" if step else ""))
    bounds = f"slice({start or 'None'}, {stop or 'None'}{', ' + step if step else ''})"
    if not re.fullmatch(r"[\w.]+", dim_src):
        dim_src = f"({dim_src})"
    return f"{x}[(slice(None),) * ({dim_src} % {x}.dim()) + ({bounds},)]"


def _shift(ctx: ShapeCtx, ins, a):
    ctx.axis(a["dim"], len(ins[0]))
    shifts = number(a["shifts"])
    if shifts is None:
        ctx.fail(f"'shifts' must be a number ({a['shifts']} is not): its sign says which "
                 "end of the dim keeps its values", BAD_ARGUMENTS)
    if shifts == 0:
        ctx.fail("'shifts' is 0: nothing moves (write the input itself)", BAD_ARGUMENTS)
    return ins[0]


def _shift_call(site: CallSite) -> str:
    """`torch.cat([x[:, :s], x[:, :-s]], dim=1)` for a shift s > 0 (the first s places keep
    their values, the rest move up by s), `torch.cat([x[:, s:], x[:, -s:]], dim=1)` for
    s < 0; a shift given by a param is decided at run time."""
    x, dim, dim_src = site.ins[0], site.values.get("dim"), site.args["dim"]
    shifts = site.values.get("shifts")

    def cat(s: str, n: str) -> str:  # s >= 1 places move toward the end, -s written as n
        return f"torch.cat([{along(x, dim, dim_src, '', s)}, {along(x, dim, dim_src, '', n)}]" \
               f", dim={dim_src})"

    def cat_back(s: str, n: str) -> str:  # s >= 1 places move toward the start
        return f"torch.cat([{along(x, dim, dim_src, s, '')}, {along(x, dim, dim_src, n, '')}]" \
               f", dim={dim_src})"

    if isinstance(shifts, int):
        return cat(str(shifts), str(-shifts)) if shifts > 0 else \
            cat_back(str(-shifts), str(shifts))
    s = site.args["shifts"]
    if not re.fullmatch(r"[\w.]+", s):
        s = f"({s})"
    return f"({cat(s, f'-{s}')} if {s} > 0 else {cat_back(f'-{s}', s)})"


register(Op("shift", "reshape", (Arg("shifts", "int"), Arg("dim", "dim")), _shift,
            emit=_shift_call, dtype=ANY_DTYPE, layout=KEEPS,
            rule="shape unchanged; elements move `shifts` places along `dim` (toward its end "
                 "when positive), the places they leave keep their values: no wrap-around, "
                 "unlike roll",
            summary="shift elements along a dim, keeping the vacated places",
            key_args=("shifts", "dim")))


def _select(ctx: ShapeCtx, ins, a):
    x, index = ins[0], a["index"]
    d = ctx.axis(a["dim"], len(x))
    i = number(index)
    if i is None:  # a param's index: the one-element slice at it is not empty
        if not ctx.is_minus_one(index):  # `index: N` on a dim of N: out of range
            ctx.at_least(x[d], index + 1, f"select's index {index} on dim {d}")
        ctx.slice_length(x[d], index, None if ctx.is_minus_one(index) else index + 1)
    elif (n := number(x[d])) is not None and not -n <= i < n:
        ctx.fail(f"index {i} is out of range for dim {d} of size {n}")
    else:  # -size <= index < size for every size
        ctx.at_least(x[d], -i if i < 0 else i + 1, f"index {i} of dim {d}")
    return x[:d] + x[d + 1:]


def _select_call(site: CallSite) -> str:
    """`x[:, i]` (`x[..., i]` counting from the end) for a literal dim, as one indexes by
    hand; `x.select(dim, i)` for a dim given by a param."""
    x, dim, index = site.ins[0], site.values.get("dim"), site.args["index"]
    if not isinstance(dim, int) or isinstance(dim, bool):
        return f"{x}.select({site.args['dim']}, {index})"
    return _at_dim(x, dim, index)


register(Op("select", "reshape", (Arg("dim", "dim"), Arg("index", "int")), _select,
            dtype=ANY_DTYPE, layout=STRIDED, emit=_select_call,
            rule="drops dim `dim`, keeping element `index` (-size <= index < size)",
            summary="index a dim by an integer (removes it)", key_args=("dim", "index")))



def _index(ctx: ShapeCtx, ins, a):
    table, index = ins
    if not table:
        ctx.fail("index picks rows of its first input, which has no dims", BAD_ARGUMENTS)
    return tuple(index) + tuple(table[1:])


# `table[index]`: a learned table read at positions computed from sizes (relative position
# embeddings and biases: HaloNet, Swin); the integers are not followed, so one out of range
# raises as forward runs (IndexError), as the hand-written line does. Strided: torch keeps
# a strided table's dim order (a channels-last table gives a result `.view` refuses)
register(Op("index", "reshape", (), _index, arity=(2, 2), dtype=Dtypes(("any", "int"), "first"),
            layout=STRIDED, emit=lambda site: f"{site.ins[0]}[{site.ins[1]}]",
            rule="[T, *rest] indexed by an int tensor [*I] -> [*I, *rest]: the rows of input 0 "
                 "at the integers of input 1",
            summary="rows of a tensor picked by an integer tensor (table[index])"))

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad(ctx: ShapeCtx, ins, a):
    x, pad, mode = list(ins[0]), a["pad"], a["mode"]
    if len(pad) % 2 or len(pad) // 2 > len(x):
        ctx.fail(f"'pad' has {len(pad)} values: an even number, two per padded dim (last "
                 f"dim first), at most {2 * len(x)}", BAD_ARGUMENTS)
    if a["value"] is not None and mode != "constant":
        ctx.fail(f"'value' fills only mode 'constant' (mode is '{mode}')", BAD_ARGUMENTS)
    n = len(pad) // 2
    family = getattr(ins[0], "dtype", "float")  # the checker's inputs carry their dtype family
    if mode != "constant" and family != "float":  # torch pads only floats but with constants
        ctx.fail(f"mode '{mode}' pads float tensors, not {family}", BAD_ARGUMENTS,
                 "dtype rule: any with mode 'constant', float with the others")
    spatial = [k for k in (len(x) - 2, len(x) - 1) if 1 <= k <= 3]  # torch's combinations
    if mode != "constant" and n not in spatial:
        ctx.fail(f"mode '{mode}' pads the 1 to 3 spatial dims of [N, C, *spatial] or "
                 f"[C, *spatial]: {' or '.join(map(str, spatial)) or 'no'} dims of a "
                 f"{len(x)}-D input, here {n}", BAD_ARGUMENTS)
    for i in range(n):
        d = len(x) - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if mode == "reflect":  # each side pads less than the dim
            for side in (lo, hi):
                ctx.at_least(x[d], side + 1, f"reflect padding of dim {d} by {side}")
        elif mode == "circular":  # wraps around at most once: each side pads at most the
            for side, other in ((lo, hi), (hi, lo)):  # dim, less what a negative other crops
                what = f"circular padding of dim {d} by {side}"
                if isinstance(other, int):  # a number: one bound
                    ctx.at_least(x[d], side - min(other, 0), what + (
                        f" with {other} on its other side" if other < 0 else ""))
                    continue
                ctx.at_least(x[d], side, what)
                ctx.at_least(x[d], side - other, f"{what} with {other} on its other side")
        size = x[d] + lo + hi  # a negative side crops: at least 1 left for every size
        ctx.at_least(size, 1, f"pad's output dim {d}", size)
        x[d] = size
    return tuple(x)


register(Op("pad", "reshape",
            (Arg("pad", "shape"), Arg("mode", "str", "constant", PAD_MODES),
             Arg("value", "float", None)),
            _pad, dtype=ANY_DTYPE, layout=KEEPS,
            call="F.pad({{ x }}, [{{ pad }}]" + by_keyword_but("pad") + ")",
            rule="pad = [left, right, top, bottom, ...] from the last dim: each padded dim "
                 "grows by its two values (negative crops); modes but 'constant' take floats; "
                 "'reflect' pads each side by less than the dim, 'circular' by at most the "
                 "dim (less what a negative other side crops), for every size `requires` "
                 "allows; 'constant' and 'replicate' by any amount",
            summary="pad the last dims", key_args=("pad", "mode", "value")))


# -- unfold / fold: sliding blocks of [N, C, H, W] --------------------------------------------
def _window(ctx: ShapeCtx, a, key: str) -> tuple:
    value = a[key]
    if isinstance(value, tuple):
        if len(value) != 2:
            ctx.fail(f"'{key}' has {len(value)} values for 2 spatial dims", BAD_ARGUMENTS)
        return value
    return (value, value)


def _blocks(ctx: ShapeCtx, spatial, a, where: tuple[str, str]) -> tuple:
    """The number of blocks along each spatial dim (the convolution formula), at least 1
    for every size `requires` allows; `where` names the two dims in the error."""
    k, d, p, s = (_window(ctx, a, key) for key in ("kernel_size", "dilation", "padding",
                                                   "stride"))
    return tuple(window_count(ctx, size, k_, f"the number of blocks along {at}", stride=s_,
                              padding=p_, dilation=d_)
                 for size, k_, d_, p_, s_, at in zip(spatial, k, d, p, s, where, strict=True))


def _unfold(ctx: ShapeCtx, ins, a):
    n, c, h, w = ctx.rank(ins[0], 4, "unfold input [N, C, H, W]")
    blocks = _blocks(ctx, (h, w), a, ("input dim 2", "input dim 3"))
    return (n, c * prod(_window(ctx, a, "kernel_size")), prod(blocks))


def _fold(ctx: ShapeCtx, ins, a):
    n, ck, length = ctx.rank(ins[0], 3, "fold input [N, C * prod(kernel_size), L]")
    c = ctx.exact_div(ck, prod(_window(ctx, a, "kernel_size")),
                      "dim 1 / prod(kernel_size)")
    out = _window(ctx, a, "output_size")
    blocks = _blocks(ctx, out, a, ("output_size[0]", "output_size[1]"))
    ctx.eq(length, prod(blocks), "dim 2 (L)", "the number of blocks of output_size")
    return (n, c, *out)


WINDOW = (Arg("kernel_size", "ints", low=1), Arg("dilation", "ints", 1, low=1),
          Arg("padding", "ints", 0, low=0), Arg("stride", "ints", 1, low=1))
UNFOLD_RULE = ("[N, C, H, W] -> [N, C * prod(kernel_size), L], L = product over H, W of "
               "(size + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1")
FOLD_RULE = ("[N, C * prod(kernel_size), L] -> [N, C, *output_size], L the number of blocks "
             "of output_size (unfold's formula)")
_WINDOW_SHOWN = ("kernel_size", "dilation", "padding", "stride")  # every one shapes the windows
register(Op("unfold", "resample", WINDOW, _unfold, dtype=Dtypes(("float|complex",)),
            layout=FRESH,
            call="F.unfold({{ x }}, {{ kernel_size }}" + by_keyword_but("kernel_size") + ")",
            rule=UNFOLD_RULE, summary="sliding blocks as columns (im2col)",
            key_args=_WINDOW_SHOWN))
register(Op("Unfold", "resample", WINDOW, _unfold, dtype=Dtypes(("float|complex",)),
            module=True, layout=FRESH,
            torch="nn.Unfold", rule=UNFOLD_RULE,
            summary="sliding blocks as columns (im2col layer)", key_args=_WINDOW_SHOWN))
FOLD_ARGS = (Arg("output_size", "ints", low=1), *WINDOW)
register(Op("fold", "resample", FOLD_ARGS, _fold, dtype=Dtypes(("float|complex",)),
            layout=FRESH,
            call="F.fold({{ x }}, {{ output_size }}, {{ kernel_size }}"
                 + by_keyword_but("output_size", "kernel_size") + ")",
            rule=FOLD_RULE, summary="columns summed back into an image (col2im)",
            key_args=("output_size", *_WINDOW_SHOWN)))
register(Op("Fold", "resample", FOLD_ARGS, _fold, dtype=Dtypes(("float|complex",)),
            module=True, torch="nn.Fold", rule=FOLD_RULE, layout=FRESH,
            summary="columns summed back into an image (col2im layer)",
            key_args=("output_size", *_WINDOW_SHOWN)))
