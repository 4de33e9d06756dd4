"""Convolution with a kernel from the graph: `conv1d` and `conv2d` (F.conv1d, F.conv2d),
whose weight (and bias) are tensors the spec computes rather than a layer's own. Dynamic
convolutions mix per-sample kernels this way (CondConv, DynamicConv): the batch folded into
the channels, one group per sample (`groups: B * groups`), which a function's arguments may
write since they run in forward."""

from __future__ import annotations

from .base import BY_KEYWORD, KEEPS, Arg, Dtypes, Op, register
from .ctx import ShapeCtx
from .layers import spatial_arg
from .windows import window_count

CONV_CALL_ARGS = (
    Arg("stride", "ints", 1, low=1), Arg("padding", "ints", 0, low=0),
    Arg("dilation", "ints", 1, low=1), Arg("groups", "int", 1, low=1),
)


def _conv(n: int):
    def rule(ctx: ShapeCtx, ins, a):
        x = ctx.rank(ins[0], n + 2, f"conv{n}d's input ([N, C_in, *spatial])")
        w = ctx.rank(ins[1], n + 2, f"conv{n}d's weight ([C_out, C_in / groups, *kernel])")
        groups = a["groups"]
        per_group = ctx.exact_div(x[1], groups, "groups (the input channels split into "
                                                "groups)")
        ctx.eq(w[1], per_group, "the weight's dim 1", "the input channels / groups")
        ctx.divides(groups, w[0], "the weight's dim 0 (the output channels) must be "
                                  "divisible by groups")
        if len(ins) == 3:
            bias = ctx.rank(ins[2], 1, f"conv{n}d's bias ([C_out])")
            ctx.eq(bias[0], w[0], "the bias's size", "the weight's dim 0 (the output channels)")
        s, p, d = (spatial_arg(ctx, a, key, n) for key in ("stride", "padding", "dilation"))
        spatial = tuple(
            window_count(ctx, size, k, f"conv{n}d's output dim {i}", stride=s_, padding=p_,
                         dilation=d_)
            for i, (size, k, s_, p_, d_) in enumerate(zip(x[2:], w[2:], s, p, d, strict=True), 2))
        return (x[0], w[0], *spatial)
    return rule


for _n in (1, 2):
    register(Op(
        f"conv{_n}d", "conv", CONV_CALL_ARGS, _conv(_n), arity=(2, 3), layout=KEEPS,
        dtype=Dtypes(("float", "float", "float")),
        call=f"F.conv{_n}d({{{{ x }}}}, {{{{ ins[1] }}}}"
             "{% if ins | length > 2 %}, {{ ins[2] }}{% endif %}" + BY_KEYWORD + ")",
        rule=f"input [N, C_in, *L], weight [C_out, C_in / groups, *k] and an optional bias "
             f"[C_out] -> [N, C_out, *((L + 2*padding - dilation*(k-1) - 1) // stride + 1)] "
             f"over {_n} spatial dim(s)",
        summary=f"{_n}-D convolution by a weight tensor of the graph (dynamic kernels)",
        key_args=("stride", "padding", "dilation", "groups"),
    ))
