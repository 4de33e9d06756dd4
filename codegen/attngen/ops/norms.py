"""Normalisation beside batch norm: LayerNorm, RMSNorm, GroupNorm, InstanceNorm1d/2d, and
the functional `normalize` (each vector along a dim scaled to unit p-norm)."""

from __future__ import annotations

from math import prod

from .base import BY_KEYWORD, FRESH, KEEPS, Arg, Op, register
from .ctx import ShapeCtx, number


def over_more_than_one(ctx: ShapeCtx, count, norm: str, over: str, *, always: bool) -> None:
    """A norm's statistics over `count` values: torch refuses one (ValueError), in training
    mode, and in every mode where the norm uses the input's statistics (`always`). Over a
    number, an error; over free sizes, where it fails in every mode, the bound to state."""
    if (n := number(count)) is not None and n < 2:
        ctx.fail(f"{norm}'s statistics over {over} are over {n} value(s): torch needs more "
                 f"than 1{'' if always else ' in training'}")
    if n is None and always:
        ctx.at_least(count, 2, f"{norm} (statistics over {over})")


def _sizes(value) -> tuple:
    """normalized_shape as a tuple of sizes (one size is a tuple of one)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _layer_norm(ctx: ShapeCtx, ins, a, norm: str = "LayerNorm"):
    x, sizes = ins[0], _sizes(a["normalized_shape"])
    if len(x) < len(sizes):
        ctx.fail(f"{norm} over {len(sizes)} dim(s) needs an input of at least as many, got "
                 f"{len(x)}")
    for i, size in enumerate(sizes, len(x) - len(sizes)):
        ctx.eq(x[i], size, f"dim {i}", f"normalized_shape[{i - len(x) + len(sizes)}]")
    return x


def _layer_norm_params(a) -> int:
    if not a["elementwise_affine"]:
        return 0
    return prod(_sizes(a["normalized_shape"])) * (2 if a["bias"] else 1)


register(Op(
    "LayerNorm", "norm",
    (Arg("normalized_shape", "int_list", low=1), Arg("eps", "float", 1e-05, low=0),
     Arg("elementwise_affine", "bool", True), Arg("bias", "bool", True)),
    _layer_norm, module=True, torch="nn.LayerNorm", factory=True, layout=FRESH,
    rule="[*, *normalized_shape] -> same (the last dims are normalized_shape)",
    summary="layer normalisation over the last dims",
    params=_layer_norm_params, key_args=("normalized_shape",),
))


register(Op(
    "RMSNorm", "norm",
    (Arg("normalized_shape", "int_list", low=1), Arg("eps", "float", None, low=0),
     Arg("elementwise_affine", "bool", True)),
    lambda ctx, ins, a: _layer_norm(ctx, ins, a, "RMSNorm"), module=True, torch="nn.RMSNorm",
    factory=True, layout=KEEPS,
    rule="[*, *normalized_shape] -> same (the last dims are normalized_shape)",
    summary="root-mean-square normalisation over the last dims (no mean subtracted, no bias)",
    params=lambda a: prod(_sizes(a["normalized_shape"])) if a["elementwise_affine"] else 0,
    key_args=("normalized_shape",),
))


def _normalize(ctx: ShapeCtx, ins, a):
    ctx.axis(a["dim"], len(ins[0]))
    return ins[0]


register(Op(
    "normalize", "norm",
    (Arg("p", "float", 2.0), Arg("dim", "dim", 1), Arg("eps", "float", 1e-12, low=0)),
    _normalize, layout=KEEPS,
    call="F.normalize({{ x }}" + BY_KEYWORD + ")",
    rule="shape unchanged; each vector along dim divided by its p-norm (at least eps)",
    summary="unit p-norm along a dim (cosine attention's queries and keys)",
    key_args=("dim",),
))


def _group_norm(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if len(x) < 2:
        ctx.fail(f"GroupNorm expects an input [N, C, *], got {len(x)}-D")
    ctx.eq(x[1], a["num_channels"], "channels (dim 1)", "num_channels")
    ctx.divides(a["num_groups"], a["num_channels"], "num_channels must be divisible by num_groups")
    # torch's count: N * (C // G) * the spatial sizes, over every mode
    over_more_than_one(ctx, prod((x[0], a["num_channels"] // a["num_groups"], *x[2:])),
                       "GroupNorm", "N * (num_channels // num_groups) * the spatial sizes",
                       always=True)
    return x


register(Op(
    "GroupNorm", "norm",
    (Arg("num_groups", "int", low=1), Arg("num_channels", "int", low=1),
     Arg("eps", "float", 1e-05, low=0), Arg("affine", "bool", True)),
    _group_norm, module=True, torch="nn.GroupNorm", factory=True, layout=KEEPS,
    rule="[N, num_channels, *] -> same; num_channels divisible by num_groups",
    summary="group normalisation (channels in num_groups groups)",
    params=lambda a: 2 * a["num_channels"] if a["affine"] else 0,
    key_args=("num_groups", "num_channels"),
))


def _instance_norm(n: int):
    def rule(ctx: ShapeCtx, ins, a):
        x = ins[0]
        if len(x) not in (n + 1, n + 2):
            ctx.fail(f"InstanceNorm{n}d expects a {n + 2}-D input [N, C, *spatial] or a "
                     f"{n + 1}-D one [C, *spatial], got {len(x)}-D")
        channel = len(x) - n - 1
        ctx.eq(x[channel], a["num_features"], f"channels (dim {channel})", "num_features")
        # statistics of each sample and channel over its spatial dims
        dims = ", ".join(map(str, range(channel + 1, len(x))))
        over_more_than_one(ctx, prod(x[channel + 1:]), f"InstanceNorm{n}d",
                           f"dim(s) {dims}", always=not a["track_running_stats"])
        return x
    return rule


# torch only warns on a channel count that differs from num_features without affine; here it is
# an error with or without (a spec says what its input is)
for _n in (1, 2):
    register(Op(
        f"InstanceNorm{_n}d", "norm",
        (Arg("num_features", "int", low=1), Arg("eps", "float", 1e-05, low=0),
         Arg("momentum", "float", 0.1, low=0, high=1, optional=True),
         Arg("affine", "bool", False), Arg("track_running_stats", "bool", False)),
        _instance_norm(_n), module=True, torch=f"nn.InstanceNorm{_n}d", factory=True,
        layout=KEEPS,
        rule=f"[N, num_features, *L] -> same over {_n} spatial dim(s) (N may be left out)",
        summary="instance normalisation (each sample and channel on its own)",
        params=lambda a: 2 * a["num_features"] if a["affine"] else 0,
        key_args=("num_features",),
    ))
