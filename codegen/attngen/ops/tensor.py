"""Tensor functions: ops written as expressions in forward (no parameters).

`call` is a Jinja template. Its context: `x` (the first input), `ins` (all inputs),
`seq` (the inputs as one list expression), `listed` (whether `seq` is one list-valued
input), `given` (args written in the spec), `args` (their sources by name), and every
argument's Python source by name (a left-out one reads its default; list arguments
unbracketed). An op whose call a template cannot write has an `emit` hook instead (`slice`).
"""

from __future__ import annotations

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
from .layers import CEIL_POOL_ARGS, GELU_APPROXIMATE, MODES, POOL_RULE, pool_shape, upsample_shape
from .reductions import reduce_shape
from .shaping import along


def _reshape(ctx: ShapeCtx, ins, a):
    x, target = ins[0], list(a["to"])
    holes = [i for i, d in enumerate(target) if ctx.is_minus_one(d)]
    if len(holes) > 1:
        ctx.fail("at most one -1 in a view")
    if holes:
        rest = prod(d for i, d in enumerate(target) if i != holes[0])
        target[holes[0]] = ctx.exact_div(prod(x), rest, "the -1 dim")
    ctx.eq(prod(target), prod(x), "number of elements", "prod(input shape)")
    return tuple(target)


for _name in ("view", "reshape"):
    # a view (or reshape) of a contiguous tensor is contiguous; strides.py writes a view
    # that merges dims of a tensor that may not be contiguous as reshape
    register(Op(_name, "reshape", (Arg("to", "shape"),), _reshape, dtype=ANY_DTYPE, layout=KEEPS,
                call=f"{{{{ x }}}}.{_name}({{{{ to }}}})",
                rule="same number of elements; one dim may be -1",
                summary=f"{_name} to a new shape", key_args=("to",)))


def _permute(ctx: ShapeCtx, ins, a):
    x, dims = ins[0], [ctx.axis(d, len(ins[0])) for d in a["dims"]]
    if sorted(dims) != list(range(len(x))):
        ctx.fail(f"dims {list(a['dims'])} are not a permutation of 0..{len(x) - 1}")
    return tuple(x[d] for d in dims)


register(Op("permute", "reshape", (Arg("dims", "dim_list"),), _permute, dtype=ANY_DTYPE,
            layout=STRIDED,
            call="{{ x }}.permute({{ dims }})", rule="reorders dims", summary="permute dims",
            key_args=("dims",)))


def _transpose(ctx: ShapeCtx, ins, a):
    x = list(ins[0])
    i, j = ctx.axis(a["dim0"], len(x)), ctx.axis(a["dim1"], len(x))
    x[i], x[j] = x[j], x[i]
    return tuple(x)


register(Op("transpose", "reshape", (Arg("dim0", "dim"), Arg("dim1", "dim")), _transpose,
            dtype=ANY_DTYPE, layout=STRIDED,
            call="{{ x }}.transpose({{ dim0 }}, {{ dim1 }})", rule="swaps two dims",
            summary="swap two dims"))


def _squeeze(ctx: ShapeCtx, ins, a):
    x = ins[0]
    d = ctx.axis(a["dim"], len(x))
    ctx.eq(x[d], 1, f"dim {d}", "1 (squeeze removes a size-1 dim)")
    return x[:d] + x[d + 1:]


register(Op("squeeze", "reshape", (Arg("dim", "dim"),), _squeeze, dtype=ANY_DTYPE, layout=KEEPS,
            call="{{ x }}.squeeze({{ dim }})", rule="removes size-1 dim `dim`",
            summary="drop a size-1 dim"))


def _unsqueeze(ctx: ShapeCtx, ins, a):
    x = ins[0]
    d = ctx.axis(a["dim"], len(x) + 1)
    return x[:d] + (1,) + x[d:]


register(Op("unsqueeze", "reshape", (Arg("dim", "dim"),), _unsqueeze, dtype=ANY_DTYPE,
            layout=KEEPS,
            call="{{ x }}.unsqueeze({{ dim }})", rule="inserts a size-1 dim at `dim`",
            summary="insert a size-1 dim"))

register(Op("contiguous", "reshape", (), lambda ctx, ins, a: ins[0], dtype=ANY_DTYPE,
            layout=FRESH,
            call="{{ x }}.contiguous()", rule="shape unchanged", summary="contiguous copy"))
register(Op("detach", "reshape", (), lambda ctx, ins, a: ins[0], dtype=ANY_DTYPE,
            layout=KEEPS, call="{{ x }}.detach()", rule="shape unchanged",
            summary="the same values with no gradient through them (a stop-gradient)"))
register(Op("identity", "reshape", (), lambda ctx, ins, a: ins[0], dtype=ANY_DTYPE,
            layout=KEEPS,
            call="{{ x }}",
            rule="shape unchanged", summary="names a value (alias)"))


_KEEP = "{% if 'keepdim' in given %}, keepdim={{ keepdim }}{% endif %}"
# mean and sum reduce over one dim or several; max and min (with .values) over one, amax
# and amin (reductions.py) over several
for _name, _call, _what, _dim, _takes in (
    ("mean", "{{ x }}.mean({{ dim }}" + _KEEP + ")", "mean", "dims", "float|complex"),
    ("sum", "{{ x }}.sum({{ dim }}" + _KEEP + ")", "sum", "dims", "int|float|complex"),
    ("max", "{{ x }}.max({{ dim }}" + _KEEP + ").values", "maximum", "dim", "int|float"),
    ("min", "{{ x }}.min({{ dim }}" + _KEEP + ").values", "minimum", "dim", "int|float"),
):
    several = f"over several dims write op: a{_name} (torch's {_name} takes one dim)"
    register(Op(_name, "pool", (Arg("dim", _dim, hint=several if _dim == "dim" else ""),
                                Arg("keepdim", "bool", False)), reduce_shape,
                call=_call, dtype=Dtypes((_takes,)), layout=FRESH,
                rule="removes `dim` (or keeps it as 1 with keepdim)",
                summary=f"{_what} over a dim", key_args=("dim", "keepdim")))


def _cat(ctx: ShapeCtx, ins, a):
    first = ins[0]
    d = ctx.axis(a["dim"], len(first))
    for i, s in enumerate(ins[1:], 1):
        if len(s) != len(first):
            ctx.fail(f"input {i} has {len(s)} dims, input 0 has {len(first)}")
        for j in range(len(first)):
            if j != d:
                ctx.eq(s[j], first[j], f"dim {j} of input {i}", f"dim {j} of input 0")
    return tuple(sum(s[d] for s in ins) if j == d else first[j] for j in range(len(first)))


register(Op("cat", "reshape", (Arg("dim", "dim", 0),), _cat, arity=(1, -1), list_input=True,
            dtype=ANY_DTYPE, layout=KEEPS,
            call="torch.cat({{ seq }}, dim={{ dim }})",
            rule="all dims equal except `dim`, which adds up", summary="concatenate tensors",
            key_args=("dim",)))


def _stack(ctx: ShapeCtx, ins, a):
    first = ins[0]
    for i, s in enumerate(ins[1:], 1):
        if len(s) != len(first):
            ctx.fail(f"input {i} has {len(s)} dims, input 0 has {len(first)}")
        for j in range(len(first)):
            ctx.eq(s[j], first[j], f"dim {j} of input {i}", f"dim {j} of input 0")
    d = ctx.axis(a["dim"], len(first) + 1)
    return first[:d] + (len(ins),) + first[d:]


register(Op("stack", "reshape", (Arg("dim", "dim", 0),), _stack, arity=(1, -1),
            list_input=True, dtype=ANY_DTYPE, layout=KEEPS,
            call="torch.stack({{ seq }}, dim={{ dim }})",
            rule="equal shapes; inserts a dim of size len(inputs)", summary="stack tensors",
            key_args=("dim",)))


def _split(ctx: ShapeCtx, ins, a):
    x = ins[0]
    d = ctx.axis(a["dim"], len(x))
    sizes = a["split_size_or_sections"]
    if isinstance(sizes, tuple):
        ctx.eq(sum(sizes), x[d], "sum of the sizes", f"dim {d}")
        for i, s in enumerate(sizes):  # torch refuses a negative size (an empty piece it
            if number(s) is None:  # takes): for every allowed size, not only the defaults
                ctx.at_least(s, 0, f"split size {i}")
        return [x[:d] + (s,) + x[d + 1:] for s in sizes]
    total, step = number(x[d]), number(sizes)
    if total is not None and step is not None:  # torch's rule: the last piece may be smaller
        pieces = [min(step, total - s) for s in range(0, total, step)]
    else:
        count = ctx.quotient(x[d], sizes)
        if number(count) is None and number(ctx.quotient(x[d], sizes, floors_exact=True)) is None:
            # no stated divisibility makes it a number (C in pieces of 2 is C/2 pieces)
            ctx.fail(f"dim {d} / size = {count} pieces is not a number: a split by a size "
                     "makes one tensor per piece, so their count must be fixed; give the sizes "
                     "as a list, or use chunk with a number of chunks", BAD_ARGUMENTS)
        count = ctx.exact_div(x[d], sizes, f"dim {d} / the size {sizes}")
        if number(count) is None:  # not proven even where a stated divisibility would
            ctx.fail(f"dim {d} / size = {count} pieces is not a number", BAD_ARGUMENTS)
        pieces = [sizes] * int(count)  # a number: checked above
    return [x[:d] + (s,) + x[d + 1:] for s in pieces]


register(Op("split", "reshape",
            (Arg("split_size_or_sections", "int_list", low=1), Arg("dim", "dim", 0)),
            _split, multi_output=True, dtype=ANY_DTYPE, layout=STRIDED,
            call="torch.split({{ x }}, {{ split_size_or_sections }}, dim={{ dim }})",
            rule="a list: sizes that add up to dim `dim`, one output each; a size: dim `dim` "
                 "a number (torch's pieces, the last smaller) or a provable multiple of it",
            summary="split a tensor", key_args=("split_size_or_sections", "dim")))


def _elementwise(symbol: str):
    def rule(ctx: ShapeCtx, ins, a):
        if a.get("other") is not None and len(ins) != 1:
            ctx.fail(f"'{symbol}' with 'other' takes one tensor input")
        return ctx.broadcast(ins)
    return rule


# `other` is a number operand (x * other); bool tensors add and multiply (or, and), and
# only float and complex tensors divide here (torch's integer division gives floats)
for _name, _symbol, _what, _nary, _takes in (
    ("add", "+", "sum", True, "any"), ("sub", "-", "difference", False, "int|float|complex"),
    ("mul", "*", "product", True, "any"), ("div", "/", "quotient", False, "float|complex"),
):
    register(Op(
        _name, "arith", (Arg("other", "float", None),), _elementwise(_symbol),
        arity=(1, -1 if _nary else 2), list_input=_name == "add", operands=("other",),
        layout=KEEPS,
        dtype=Dtypes((_takes,)),
        call=("{% if 'other' in given %}{{ x }} " + _symbol + " {{ other }}"
              + ("{% elif listed %}sum({{ seq }})" if _name == "add" else "")
              + "{% else %}{{ ins | join(' " + _symbol + " ') }}{% endif %}"),
        rule="broadcasting: dims equal or 1, aligned from the right",
        summary=f"elementwise {_what} of tensors (or with a number: 'other')",
        key_args=("other",),
    ))


def _matmul(ctx: ShapeCtx, ins, a):
    x, y = ins
    if len(x) < 2 or len(y) < 2:
        ctx.fail("matmul here needs two inputs of at least 2 dims")
    ctx.eq(x[-1], y[-2], "inner dim of the left input (its last)",
           "inner dim of the right input (its second to last)")
    batch = ctx.broadcast([x[:-2], y[:-2]])
    return (*batch, x[-2], y[-1])


register(Op("matmul", "attention", (), _matmul, arity=(2, 2), dtype=Dtypes(("float|complex",)),
            layout=FRESH,
            call="torch.matmul({{ ins[0] }}, {{ ins[1] }})",
            rule="[*, n, k] @ [*, k, m] -> [*, n, m] (batch dims broadcast)",
            summary="matrix product"))


# `fill: lowest` / `highest`: the input dtype's finite extremes (torch.finfo), the fill of
# attention masks that must stay finite in any precision (a row masked whole softmaxes to
# uniform weights, where -inf gives NaN; transformers libraries mask so)
FILLS = {"lowest": "min", "highest": "max"}


def _masked_fill(ctx: ShapeCtx, ins, a):
    if (a["value"] is None) == (a["fill"] is None):
        ctx.fail("masked_fill takes 'value' (a number) or 'fill' (lowest or highest: the "
                 "input dtype's finite extremes), one of them", BAD_ARGUMENTS)
    if a["fill"] is not None and getattr(ins[0], "dtype", "float") != "float":
        kind = ins[0].dtype
        ctx.fail(f"'fill: {a['fill']}' is a floating dtype's extreme (torch.finfo); the input "
                 f"is {'an' if kind == 'int' else 'a'} {kind} tensor: give a 'value'",
                 BAD_ARGUMENTS)
    return ctx.broadcast([ins[0], ins[1]])  # torch broadcasts both ways: a wider mask widens


def _masked_fill_call(site: CallSite) -> str:
    x, mask = site.ins
    fill = site.values.get("fill")
    # one of the two is given (the shape rule); the default of `value` is None
    value = f"torch.finfo({x}.dtype).{FILLS[str(fill)]}" if fill else \
        site.args.get("value", "None")
    return f"{x}.masked_fill({mask}, {value})"


register(Op("masked_fill", "attention",
            (Arg("value", "float", None), Arg("fill", "str", None, choices=tuple(FILLS))),
            _masked_fill, arity=(2, 2), dtype=Dtypes(("any", "bool")), layout=KEEPS,
            emit=_masked_fill_call,
            rule="the input and the mask broadcast together (dims equal or 1, aligned from the "
                 "right): a wider mask widens the result",
            summary="fill where the mask is true: with a number, or the dtype's lowest or "
                    "highest finite value", key_args=("value", "fill")))


def _softmax(ctx: ShapeCtx, ins, a):
    ctx.axis(a["dim"], len(ins[0]))
    return ins[0]


register(Op("softmax", "activation", (Arg("dim", "dim"),), _softmax, layout=KEEPS,
            call="torch.softmax({{ x }}, dim={{ dim }})", rule="shape unchanged",
            summary="softmax along dim", key_args=("dim",)))
for _name in ("sigmoid", "tanh", "relu"):
    register(Op(_name, "activation", (), lambda ctx, ins, a: ins[0], layout=KEEPS,
                call=f"torch.{_name}({{{{ x }}}})", rule="elementwise: shape unchanged",
                summary=f"elementwise {_name}"))
# torch.nn.functional's, with the arguments of their layers (layers.py) but `inplace`
for _name, _args, _what in (
        ("gelu", (GELU_APPROXIMATE,), "GELU"), ("silu", (), "SiLU: x * sigmoid(x)"),
        ("mish", (), "Mish: x * tanh(softplus(x))"),
        ("leaky_relu", (Arg("negative_slope", "float", 0.01),), "leaky ReLU"),
        ("elu", (Arg("alpha", "float", 1.0),), "ELU"),
        ("softplus", (Arg("beta", "float", 1.0), Arg("threshold", "float", 20.0)),
         "softplus")):
    register(Op(_name, "activation", _args, lambda ctx, ins, a: ins[0], layout=KEEPS,
                call=f"F.{_name}({{{{ x }}}}{BY_KEYWORD})",
                rule="elementwise: shape unchanged", summary=f"elementwise {_what}",
                key_args=tuple(a.name for a in _args)))

register(Op(
    "interpolate", "resample",
    (Arg("size", "ints", None), Arg("scale_factor", "floats", None),
     Arg("mode", "str", "nearest", MODES)),
    upsample_shape, layout=KEEPS,
    call="F.interpolate({{ x }}" + BY_KEYWORD + ")",
    rule="[N, C, *L] -> [N, C, *floor(L * scale_factor)] (or size)",
    summary="resample (functional)", key_args=("scale_factor", "size", "mode"),
))


def _computed_window(a) -> str:
    """ONNX's note on a functional pool: a kernel that is not a literal (of input sizes)."""
    return "" if "kernel_size" in a else (
        "a kernel_size computed in forward (of input sizes) is exported as the export's "
        "value: another input size is pooled with that window")


register(Op(
    "max_pool2d", "pool", CEIL_POOL_ARGS, pool_shape, layout=KEEPS,
    onnx_caveat=_computed_window,
    call="F.max_pool2d({{ x }}, {{ kernel_size }}" + by_keyword_but("kernel_size") + ")",
    rule=POOL_RULE, summary="max pooling (functional)",
    key_args=("kernel_size", "stride", "padding", "ceil_mode"),
))
# functional: a window of input sizes (BiFormer's regions, H // n_win) is no layer's
register(Op(
    "avg_pool2d", "pool", (*CEIL_POOL_ARGS, Arg("count_include_pad", "bool", True)),
    pool_shape, layout=KEEPS, onnx_caveat=_computed_window,
    call="F.avg_pool2d({{ x }}, {{ kernel_size }}" + by_keyword_but("kernel_size") + ")",
    rule=POOL_RULE, summary="average pooling (functional; count_include_pad: padding "
                            "counts in the average)",
    key_args=("kernel_size", "stride", "padding", "ceil_mode"),
))


def _slice(ctx: ShapeCtx, ins, a):
    x = ins[0]
    d = ctx.axis(a["dim"], len(x))
    length = ctx.slice_length(x[d], a["start"], a["stop"])
    step = a["step"]
    if step is not None and step != 1:  # every step-th element from start: ceil(n / step)
        length = (length + step - 1) // step
    return x[:d] + (length,) + x[d + 1:]


def _slice_call(site: CallSite) -> str:
    """`x[:, a:b]` or `x[:, a:b:s]` (or `x[..., a:b]` counting from the end) for a literal
    dim; for a dim given by a param the index is built at run time."""
    return along(site.ins[0], site.values.get("dim"), site.args["dim"],
                 site.args.get("start", ""), site.args.get("stop", ""),
                 site.args.get("step", ""))


register(Op(
    "slice", "reshape", (Arg("dim", "dim"), Arg("start", "int", None), Arg("stop", "int", None),
                         Arg("step", "int", None, low=1)),
    _slice, emit=_slice_call, dtype=ANY_DTYPE, layout=STRIDED,
    rule="keeps start:stop (every step-th element: ceil of the length over step) of dim "
         "`dim` (Python slice rules)", summary="slice along a dim",
    key_args=("dim", "start", "stop", "step"),
))
