"""Sliding windows along a spatial dim (conv, pooling, unfold, fold): how many fit, at
least 1 for every input size `requires` allows.

A window count, `(size + 2*padding - span + extra) // stride + 1` with span =
dilation * (kernel_size - 1) + 1 and extra = stride - 1 under ceil_mode, falls below 1
where the padded input (plus extra) is shorter than the span: an unpadded 3x3 conv on a
free H fails at run time for H < 3. So each op that slides windows asks `ctx.at_least`
for that bound: the checker tries the sizes `requires` allows, small ones included, and
asks for the `requires` line (`H >= 3`) where one breaks it. Ops whose sizes cannot
shrink (a padded "same" conv, pooling to a fixed size) pass at no cost: the bound is then
provable from the form of the sizes.
"""

from __future__ import annotations

from functools import lru_cache

from .ctx import Dim, ShapeCtx


def window_count(ctx: ShapeCtx, size: Dim, kernel: Dim, what: str, *, stride: Dim = 1,
                 padding: Dim = 0, dilation: Dim = 1, ceil: bool = False) -> Dim:
    """The number of windows along a dim of `size`; `what` names it in the error
    ("Conv2d's output dim 2")."""
    try:
        padded, span, quotient = _window(size, kernel, stride, padding, dilation, ceil)
    except TypeError:  # an unhashable value: the rule reports it
        padded, span, quotient = _window.__wrapped__(size, kernel, stride, padding, dilation,
                                                     ceil)
    count = ctx.floor(quotient) + 1
    ctx.at_least(padded, span, what, count)
    return count


@lru_cache(maxsize=1024, typed=True)  # the same convs in every configuration
def _window(size: Dim, kernel: Dim, stride: Dim, padding: Dim, dilation: Dim,
            ceil: bool) -> tuple[Dim, Dim, Dim]:
    """(the padded size, the window's span, the count less 1 before flooring)."""
    span = dilation * (kernel - 1) + 1
    extra = stride - 1 if ceil else 0
    return size + 2 * padding + extra, span, (size + 2 * padding - span + extra) / stride
