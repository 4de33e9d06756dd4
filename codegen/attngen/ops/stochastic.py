"""Stochastic depth: `drop_path`, which in training drops a residual branch for whole
samples, as timm's `drop_path` / `DropPath` (identity in eval mode; no parameters, so no
state_dict keys either way). Written inline, one expression that draws exactly timm's
random numbers in timm's order (one `bernoulli_` per sample), so a generated block and a
timm-based original agree in training mode too, under the same seed."""

from __future__ import annotations

from ..errors import BAD_ARGUMENTS
from .base import KEEPS, Arg, CallSite, Op, register
from .ctx import ShapeCtx


def _per_sample(ctx: ShapeCtx, ins, a):
    if not ins[0]:
        ctx.fail("drop_path draws one value per sample of the first dim; its input has no "
                 "dims", BAD_ARGUMENTS)
    return ins[0]


def _drop_path_call(site: CallSite) -> str:
    """`x * x.new_empty(x.shape[0], 1, 1).bernoulli_(keep).div_(keep) if self.training
    else x`: a mask of one value per sample, broadcast over the other dims. As timm's: a
    probability of 0 draws nothing, and the mask is divided by the keep probability only
    where that is above 0 and `scale_by_keep` holds."""
    x, p = site.ins[0], site.args["p"]
    shape = site.shapes[0] if site.shapes else None
    empty = f"{x}.new_empty({x}.shape[0]{', 1' * (len(shape) - 1) if shape else ''})"
    # True or False when the spec writes it, else its source (a param), else the default
    scale = site.values.get("scale_by_keep", site.args.get("scale_by_keep", True))
    p_value = site.values.get("p")
    if isinstance(p_value, int | float):  # a number: its keep probability written out
        keep = 1 - float(p_value)  # as timm computes it: 1 - drop_prob
        if keep == 1:
            return x
        mask = f"{empty}.bernoulli_({keep!r})"
        scaled = f"{mask}.div_({keep!r})" if keep > 0 else mask
        when = "self.training"
    else:
        mask = f"{empty}.bernoulli_(1 - {p})"
        scaled = f"{mask}.div_(1 - {p} or 1)"  # p 1: nothing kept, nothing to divide
        when = f"self.training and {p} > 0"
    if scale is False:
        scaled = mask
    elif scale is not True:  # an expression: decided as forward runs
        scaled = f"({scaled} if {scale} else {mask})"
    return f"{x} * {scaled} if {when} else {x}"


register(Op(
    "drop_path", "regularize",
    (Arg("p", "float", low=0, high=1), Arg("scale_by_keep", "bool", True)),
    _per_sample, emit=_drop_path_call, layout=KEEPS,
    rule="shape unchanged (one draw per sample: the first dim)",
    summary="stochastic depth: in training, zero the whole input of a sample with "
            "probability p and scale the others by 1 / (1 - p); identity in eval mode",
    key_args=("p",),
))
