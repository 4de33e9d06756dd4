"""Reductions beside mean, sum, max and min (tensor.py): std, var, norm, logsumexp, amax,
amin. Each reduces one dim or a list of them (`dim: [2, 3]`); those whose dim may be left
out reduce every dim then, as torch does. Their shape rule, `reduce_shape`, is tensor.py's
reductions' too."""

from __future__ import annotations

from math import floor, prod

from ..errors import BAD_ARGUMENTS
from .base import BY_KEYWORD, FRESH, Arg, Dtypes, Op, register
from .ctx import ShapeCtx, number

DIM_RULE = "removes each dim of `dim` (or keeps it as 1 with keepdim)"
ALL_RULE = DIM_RULE + "; no dim: every dim"


def reduced_axes(ctx: ShapeCtx, x, dim) -> list[int]:
    """The axes `dim` (an index, a tuple of them, or None: every dim) reduces of `x`."""
    if dim is None:
        return list(range(len(x)))
    axes = [ctx.axis(d, len(x)) for d in (dim if isinstance(dim, tuple) else (dim,))]
    if len(set(axes)) != len(axes):  # torch refuses `x.sum((-2, 2))` on 4 dims at run time
        ctx.fail(f"'dim' {dim} names a dim more than once (input of rank {len(x)})",
                 BAD_ARGUMENTS)
    return axes


def reduce_shape(ctx: ShapeCtx, ins, a):
    """The shape rule of every reduction, here and in tensor.py (mean, sum, max, min)."""
    x = ins[0]
    if a["dim"] is None:  # every dim
        return (1,) * len(x) if a["keepdim"] else ()
    axes = reduced_axes(ctx, x, a["dim"])
    if a["keepdim"]:
        return tuple(1 if i in axes else s for i, s in enumerate(x))
    return tuple(s for i, s in enumerate(x) if i not in axes)


_KEEPDIM = Arg("keepdim", "bool", False)


def _spread(name: str):
    def rule(ctx: ShapeCtx, ins, a):
        if a["correction"] is not None and a["unbiased"] is not None:
            ctx.fail("give 'correction' or 'unbiased', not both (unbiased: false is "
                     "correction: 0)", BAD_ARGUMENTS)
        out = reduce_shape(ctx, ins, a)
        correction = a["correction"] if a["correction"] is not None else (
            1 if a["unbiased"] in (None, True) else 0)
        if isinstance(correction, (int, float)) and correction > 0:  # not a param's symbol
            # N - correction <= 0 gives NaN (torch warns, nothing raises): over more than
            # `correction` elements only
            x = ins[0]
            count = prod(x[i] for i in reduced_axes(ctx, x, a["dim"]))
            least = floor(correction) + 1
            if (n := number(count)) is not None and n < least:
                ctx.fail(f"{name} over {n} element(s) with correction {correction:g} is NaN "
                         f"(it divides by N - correction = {n - correction:g})")
            ctx.at_least(count, least, f"{name} with correction {correction:g} (NaN unless "
                                       f"over more than {least - 1} element(s))")
        return out
    return rule


# torch.std(x, unbiased=..., keepdim=...) matches no overload of torch's: with both, dim is
# written even when it is None
_NO_DIM = ("{% if 'unbiased' in given and 'keepdim' in given and 'dim' not in given %}"
           ", dim=None{% endif %}")


# torch 2's signature: `correction` (default 1, Bessel's correction; 0 the population
# statistic); the older `unbiased` (true: correction 1, false: 0) is taken too, as torch does
for _name, _what in (("std", "standard deviation"), ("var", "variance")):
    register(Op(
        _name, "pool",
        (Arg("dim", "dims", None), Arg("correction", "float", None, low=0),
         Arg("unbiased", "bool", None), _KEEPDIM),
        _spread(_name), call=f"torch.{_name}({{{{ x }}}}{_NO_DIM}{BY_KEYWORD})", layout=FRESH,
        dtype=Dtypes(("float|complex",), gives="float"),  # of a complex tensor: real
        rule=ALL_RULE,
        summary=f"{_what} over dims (correction: 1 unless given, as in torch)",
        key_args=("dim",),  # diagrams show key args positionally: torch's 2nd is unbiased
    ))

# written as torch.linalg.vector_norm (Tensor.norm is deprecated); `p`, as Tensor.norm and
# F.normalize name it, is vector_norm's `ord`
register(Op(
    "norm", "pool", (Arg("p", "float", 2), Arg("dim", "dims", None), _KEEPDIM), reduce_shape,
    layout=FRESH,
    call=("torch.linalg.vector_norm({{ x }}{% for k in given %}, "
          "{{ 'ord' if k == 'p' else k }}={{ args[k] }}{% endfor %})"),
    dtype=Dtypes(("float|complex",), gives="float"),
    rule=ALL_RULE,
    summary="vector p-norm over dims (torch.linalg.vector_norm; p: inf for the max norm)",
    key_args=("p",),  # diagrams show key args positionally, as Tensor.norm(p) reads
))

register(Op(
    "logsumexp", "pool", (Arg("dim", "dims"), _KEEPDIM), reduce_shape, layout=FRESH,
    call=f"torch.logsumexp({{{{ x }}}}{BY_KEYWORD})",
    dtype=Dtypes(("any",), gives="floating"),  # of an int tensor: float
    rule=DIM_RULE, summary="log of the sum of exponentials over dims (numerically stable)",
    key_args=("dim", "keepdim"),
))

for _name, _what in (("amax", "maximum"), ("amin", "minimum")):
    register(Op(
        _name, "pool", (Arg("dim", "dims", None), _KEEPDIM), reduce_shape, layout=FRESH,
        call=f"torch.{_name}({{{{ x }}}}{BY_KEYWORD})",
        dtype=Dtypes(("bool|int|float",)),  # complex tensors have no order
        rule=ALL_RULE, summary=f"{_what} over dims (values only; max and min take one dim)",
        key_args=("dim", "keepdim"),
    ))
