"""Sampling at coordinates: grid_sample reads a map at the points a grid of normalised
coordinates gives (bilinear, nearest or bicubic), the step of deformable attention and of
learned upsamplers that move their sampling points (DAT, DySample)."""

from __future__ import annotations

from ..errors import BAD_ARGUMENTS
from .base import FRESH, Arg, Dtypes, Op, by_keyword_but, register
from .ctx import ShapeCtx


def _grid_sample(ctx: ShapeCtx, ins, a):
    x, grid = ins
    if len(x) not in (4, 5):
        ctx.fail(f"grid_sample samples [N, C, H, W] or [N, C, D, H, W] inputs, got {len(x)} dims")
    n = len(x) - 2
    ctx.rank(grid, n + 2, f"grid_sample's grid (for a {len(x)}-D input)")
    ctx.eq(grid[0], x[0], "the grid's batch (dim 0)", "the input's batch")
    ctx.eq(grid[-1], n, "the grid's last dim (a point's coordinates)",
           "the input's count of spatial dims")
    if a["mode"] == "bicubic" and n != 2:
        ctx.fail("mode 'bicubic' samples 4-D inputs only", BAD_ARGUMENTS)
    return (x[0], x[1], *grid[1:-1])


# align_corners is always written: torch warns when a call leaves it out
register(Op(
    "grid_sample", "resample",
    (Arg("mode", "str", "bilinear", ("bilinear", "nearest", "bicubic")),
     Arg("padding_mode", "str", "zeros", ("zeros", "border", "reflection")),
     Arg("align_corners", "bool", False)),
    _grid_sample, arity=(2, 2), layout=FRESH, dtype=Dtypes(("float", "float")),
    call="F.grid_sample({{ x }}, {{ ins[1] }}" + by_keyword_but("align_corners")
         + ", align_corners={{ align_corners }})",
    rule="input [N, C, *S] and a grid [N, *P, n] of normalised coordinates (-1 to 1; n = "
         "len(S), 2 or 3) -> [N, C, *P]: the input read at each point of the grid",
    summary="sample a map at the points a grid gives (deformable attention, learned "
            "upsampling)", key_args=("mode", "padding_mode", "align_corners"),
))
