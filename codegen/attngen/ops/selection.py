"""Selecting by value or by position: topk (the k largest or smallest elements along a
dim, and where they are) and gather (the elements an index tensor names along a dim), the
two steps of routing attention (BiFormer's regions, each query's top k)."""

from __future__ import annotations

from .base import FRESH, Arg, Dtypes, Op, by_keyword_but, register
from .ctx import ShapeCtx


def _topk(ctx: ShapeCtx, ins, a):
    x = ins[0]
    d = ctx.axis(a["dim"], len(x))
    ctx.at_least(x[d], a["k"], f"topk's k (at most the size of dim {d})")
    kept = x[:d] + (a["k"],) + x[d + 1:]
    return [kept, kept]


register(Op(
    "topk", "attention",
    (Arg("k", "int", low=1), Arg("dim", "dim", -1), Arg("largest", "bool", True),
     Arg("sorted", "bool", True)),
    _topk, multi_output=True, layout=FRESH,
    dtype=Dtypes(("int|float",), outputs=("same", "int")),
    call="torch.topk({{ x }}, {{ k }}" + by_keyword_but("k") + ")",
    rule="dim `dim` of size at least k -> k; two outputs, `out: [values, indices]` (the "
         "indices long)",
    summary="the k largest (or smallest) elements along a dim and their indices",
    key_args=("k", "dim", "largest"),
))


def _gather(ctx: ShapeCtx, ins, a):
    x, index = ins
    if len(index) != len(x):
        ctx.fail(f"gather's index must have the input's {len(x)} dims, got {len(index)}")
    d = ctx.axis(a["dim"], len(x))
    for i, (size, taken) in enumerate(zip(x, index, strict=True)):
        if i != d:  # torch refuses an index larger than the input in any other dim
            ctx.at_least(size, taken, f"gather's input dim {i} (at least the index's)")
    return index


register(Op(
    "gather", "attention", (Arg("dim", "dim"),), _gather, arity=(2, 2), layout=FRESH,
    dtype=Dtypes(("any", "int"), "first"),
    call="torch.gather({{ x }}, {{ dim }}, {{ ins[1] }})",
    rule="input [*S] and an int index [*I] of as many dims, I at most S but along dim -> "
         "[*I]: out[i][j][k] = input[index[i][j][k]][j][k] along dim 0 (the index's values "
         "within dim `dim`: torch checks them at run time)",
    summary="the elements of input 0 that the integers of input 1 name along a dim",
    key_args=("dim",),
))
