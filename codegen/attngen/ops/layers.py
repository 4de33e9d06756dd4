"""Layers: ops that own an nn.Module (and usually parameters)."""

from __future__ import annotations

from math import prod

from ..errors import BAD_ARGUMENTS
from .base import ANY_DTYPE, FRESH, KEEPS, Arg, Op, register
from .ctx import ShapeCtx
from .norms import over_more_than_one
from .windows import window_count

CONV_ARGS = (
    Arg("in_channels", "int"), Arg("out_channels", "int"), Arg("kernel_size", "ints", low=1),
    Arg("stride", "ints", 1, low=1), Arg("padding", "ints", 0, low=0),
    Arg("dilation", "ints", 1, low=1), Arg("groups", "int", 1, low=1), Arg("bias", "bool", True),
)


def per_dim(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def spatial_arg(ctx: ShapeCtx, a, key: str, n: int) -> tuple:
    """Argument `key`, one value or one per spatial dim, as n values."""
    value = a[key]
    if isinstance(value, (tuple, list)) and len(value) != n:
        ctx.fail(f"'{key}' has {len(value)} values for {n} spatial dim(s)", BAD_ARGUMENTS)
    return per_dim(value, n)


def conv_input(ctx: ShapeCtx, ins, a, n: int, layer: str) -> tuple:
    """A conv's (or transposed conv's) input [N, in_channels, *n spatial dims], its channels
    split evenly into `groups` on both sides."""
    x = ctx.rank(ins[0], n + 2, f"{layer} input")
    ctx.eq(x[1], a["in_channels"], "input channels", "in_channels")
    ctx.divides(a["groups"], a["in_channels"], "in_channels must be divisible by groups")
    ctx.divides(a["groups"], a["out_channels"], "out_channels must be divisible by groups")
    return x


def _conv_shape(n: int):
    def rule(ctx: ShapeCtx, ins, a):
        x = conv_input(ctx, ins, a, n, f"Conv{n}d")
        k, s, p, d = (spatial_arg(ctx, a, key, n)
                      for key in ("kernel_size", "stride", "padding", "dilation"))
        spatial = tuple(window_count(ctx, size, k_, f"Conv{n}d's output dim {i}", stride=s_,
                                     padding=p_, dilation=d_)
                        for i, (size, k_, s_, p_, d_) in enumerate(zip(x[2:], k, s, p, d,
                                                                       strict=False), 2))
        return (x[0], a["out_channels"], *spatial)
    return rule


def _conv_params(n: int):
    def count(a):
        k = per_dim(a["kernel_size"], n)
        weight = a["out_channels"] * (a["in_channels"] // a["groups"]) * prod(k)
        return weight + (a["out_channels"] if a["bias"] else 0)
    return count


for _n in (1, 2):
    register(
        Op(
            f"Conv{_n}d",
            "conv",
            CONV_ARGS,
            _conv_shape(_n),
            module=True,
            torch=f"nn.Conv{_n}d",
            factory=True,
            layout=KEEPS,  # a channels-last input gives a channels-last output
            rule="[N, in_channels, *L] -> [N, out_channels, "
            f"*((L + 2*padding - dilation*(kernel_size-1)"
            f" - 1) // stride + 1)] over {_n} spatial dim(s)",
            summary=f"{_n}-D convolution",
            params=_conv_params(_n),
            key_args=(
                "in_channels",
                "out_channels",
                "kernel_size",
                "stride",
                "padding",
                "dilation",
                "groups",
            ),
        )
    )


def _linear(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if len(x) < 1:
        ctx.fail("Linear needs at least one dim")
    ctx.eq(x[-1], a["in_features"], "last dim", "in_features")
    return (*x[:-1], a["out_features"])


register(
    Op(
        "Linear",
        "linear",
        (Arg("in_features", "int"), Arg("out_features", "int"), Arg("bias", "bool", True)),
        _linear,
        module=True,
        torch="nn.Linear",
        factory=True,
        layout=FRESH,
        rule="[*, in_features] -> [*, out_features]",
        summary="fully connected layer on the last dim",
        params=lambda a: (
            a["in_features"] * a["out_features"] + (a["out_features"] if a["bias"] else 0)
        ),
        key_args=("in_features", "out_features"),
    )
)


def _batchnorm(n: int):
    def rule(ctx: ShapeCtx, ins, a):
        x = ins[0]
        if len(x) not in ((2, 3) if n == 1 else (n + 2,)):
            ctx.fail(f"BatchNorm{n}d expects a {n + 2}-D input, got {len(x)}-D")
        ctx.eq(x[1], a["num_features"], "channels (dim 1)", "num_features")
        # statistics of each channel over the batch and spatial dims
        dims = ", ".join(map(str, (0, *range(2, len(x)))))
        over_more_than_one(ctx, prod((x[0], *x[2:])), f"BatchNorm{n}d", f"dim(s) {dims}",
                           always=not a["track_running_stats"])
        return x
    return rule


for _n in (1, 2):
    register(Op(
        f"BatchNorm{_n}d", "norm",
        (Arg("num_features", "int"), Arg("eps", "float", 1e-05, low=0),
         Arg("momentum", "float", 0.1, low=0, high=1, optional=True),
         Arg("affine", "bool", True), Arg("track_running_stats", "bool", True)),
        _batchnorm(_n), module=True, torch=f"nn.BatchNorm{_n}d", factory=True, layout=KEEPS,
        rule="[N, num_features, ...] -> same", summary="batch normalisation",
        params=lambda a: 2 * a["num_features"] if a["affine"] else 0, key_args=("num_features",),
    ))


def _same(ctx: ShapeCtx, ins, a):
    return ins[0]


_INPLACE = Arg("inplace", "bool", False)
GELU_APPROXIMATE = Arg("approximate", "str", "none", choices=("none", "tanh"))
# name: (args in torch's order, what it computes, the args a diagram box shows)
_ACTIVATIONS: dict[str, tuple[tuple[Arg, ...], str, tuple[str, ...]]] = {
    "ReLU": ((_INPLACE,), "max(x, 0)", ()),
    "ReLU6": ((_INPLACE,), "min(max(x, 0), 6)", ()),
    "LeakyReLU": ((Arg("negative_slope", "float", 0.01), _INPLACE),
                  "max(x, 0) + negative_slope * min(x, 0)", ("negative_slope",)),
    "ELU": ((Arg("alpha", "float", 1.0), _INPLACE), "x if x > 0 else alpha * (exp(x) - 1)",
            ("alpha",)),
    "SELU": ((_INPLACE,), "a fixed scale times ELU at a fixed alpha (self-normalising)", ()),
    "SiLU": ((_INPLACE,), "x * sigmoid(x)", ()),
    "Mish": ((_INPLACE,), "x * tanh(softplus(x))", ()),
    "Softplus": ((Arg("beta", "float", 1.0), Arg("threshold", "float", 20.0)),
                 "log(1 + exp(beta * x)) / beta (x where beta * x > threshold)", ("beta",)),
    "Sigmoid": ((), "1 / (1 + exp(-x))", ()),
    "Tanh": ((), "tanh(x)", ()),
    "Hardswish": ((_INPLACE,), "x * relu6(x + 3) / 6", ()),
    "Hardsigmoid": ((_INPLACE,), "relu6(x + 3) / 6", ()),
    "GELU": ((GELU_APPROXIMATE,), "Gaussian error linear unit (approximate: 'tanh' for "
             "its tanh form)", ("approximate",)),
}
for _name, (_args, _what, _shown) in _ACTIVATIONS.items():
    register(Op(_name, "activation", _args, _same, module=True, torch=f"nn.{_name}",
                layout=KEEPS, rule="elementwise: shape unchanged", summary=f"activation: {_what}",
                key_args=_shown))


def _prelu(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if a["num_parameters"] != 1:  # one slope per channel: dim 1 (a 1-D input has none)
        if len(x) < 2:
            ctx.fail(f"PReLU with num_parameters {a['num_parameters']} needs a channel dim "
                     f"(dim 1), got a {len(x)}-D input")
        ctx.eq(x[1], a["num_parameters"], "channels (dim 1)", "num_parameters")
    return x


register(Op("PReLU", "activation", (Arg("num_parameters", "int", 1, low=1),
                                    Arg("init", "float", 0.25)),
            _prelu, module=True, torch="nn.PReLU", factory=True, layout=KEEPS,
            rule="elementwise: shape unchanged; num_parameters is 1 or the channels (dim 1)",
            summary="activation: max(x, 0) + weight * min(x, 0), a learned slope (one, or "
                    "one per channel)", params=lambda a: a["num_parameters"],
            key_args=("num_parameters",)))
register(Op("Identity", "activation", (), _same, module=True, torch="nn.Identity", layout=KEEPS,
            rule="elementwise: shape unchanged", summary="activation: x", dtype=ANY_DTYPE))

register(Op("Dropout", "regularize",
            (Arg("p", "float", 0.5, low=0, high=1), Arg("inplace", "bool", False)),
            _same, module=True, torch="nn.Dropout", layout=KEEPS, rule="shape unchanged",
            summary="dropout (identity in eval mode)", key_args=("p",)))


def _softmax_layer(ctx: ShapeCtx, ins, a):
    ctx.axis(a["dim"], len(ins[0]))
    return ins[0]


register(Op("Softmax", "activation", (Arg("dim", "dim"),), _softmax_layer, module=True,
            torch="nn.Softmax", layout=KEEPS, rule="shape unchanged; normalises along dim",
            summary="softmax layer", key_args=("dim",)))


def _adaptive_pool(ctx: ShapeCtx, ins, a):
    x = ctx.rank(ins[0], 4, "adaptive pooling input")
    size = spatial_arg(ctx, a, "output_size", 2)
    return (
        x[0],
        x[1],
        *(old if new is None else new for old, new in zip(x[2:], size, strict=False)),
    )


def _adaptive_onnx(a) -> str:
    sizes = per_dim(a.get("output_size"), 2)
    if all(size == 1 for size in sizes):  # global pooling: exported as such
        return ""
    return ("ONNX export pools with the window the export's input size gives, so another "
            f"input size gets another output size (only output_size 1 adapts; got {sizes})")


for _kind in ("Avg", "Max"):
    register(Op(
        f"Adaptive{_kind}Pool2d", "pool", (Arg("output_size", "sizes"),),
        _adaptive_pool, module=True, onnx_caveat=_adaptive_onnx, layout=KEEPS,
        torch=f"nn.Adaptive{_kind}Pool2d",
        rule="[N, C, H, W] -> [N, C, *output_size] (None keeps that dim)",
        summary=f"adaptive {_kind.lower()} pooling to a fixed size", key_args=("output_size",),
    ))


def pool_shape(ctx: ShapeCtx, ins, a, spatial_dims: int = 2):
    """Max or average pooling over the last `spatial_dims` dims of [N, C, *spatial]."""
    x = ctx.rank(ins[0], 2 + spatial_dims, "pooling input")
    k = spatial_arg(ctx, a, "kernel_size", spatial_dims)
    s = spatial_arg(ctx, a, "stride", spatial_dims) if a["stride"] is not None else k
    p = spatial_arg(ctx, a, "padding", spatial_dims)
    for k_, p_ in zip(k, p, strict=False):  # torch refuses a padding over half the kernel
        if isinstance(k_, int) and isinstance(p_, int):
            if 2 * p_ > k_:
                ctx.fail(f"padding {p_} is more than half of kernel_size {k_} (torch refuses it)")
        else:  # symbolic: judged at the default sizes, as argument bounds are
            ctx.in_bounds(2 * p_ - k_, None, 0, "2 * padding - kernel_size")
    ceil = bool(a.get("ceil_mode", False))
    if ceil:  # torch drops a last window that would start past the input and its padding:
        # never so while stride <= kernel_size - padding (judged at the default sizes)
        for k_, s_, p_ in zip(k, s, p, strict=False):
            ctx.in_bounds(k_ - p_ - s_, 0, None, "kernel_size - padding - stride with ceil_mode")
    spatial = tuple(
        window_count(ctx, size, k_, f"the pooled output's dim {i}", stride=s_, padding=p_,
                     ceil=ceil)
        for i, (size, k_, s_, p_) in enumerate(zip(x[2:], k, s, p, strict=False), 2)
    )
    return (x[0], x[1], *spatial)


POOL_ARGS = (Arg("kernel_size", "ints", low=1), Arg("stride", "ints", None, low=1),
             Arg("padding", "ints", 0, low=0))
POOL_RULE = ("[N, C, H, W] -> [N, C, (H + 2*padding - kernel_size) // stride + 1, ...] "
             "(ceil_mode: rounded up; stride <= kernel_size - padding)")
CEIL_POOL_ARGS = (*POOL_ARGS, Arg("ceil_mode", "bool", False))  # torch's order, dilation aside
register(Op("MaxPool2d", "pool", CEIL_POOL_ARGS, pool_shape, module=True, torch="nn.MaxPool2d",
            layout=KEEPS,
            rule=POOL_RULE, summary="max pooling",
            key_args=("kernel_size", "stride", "padding", "ceil_mode")))
register(Op("AvgPool2d", "pool", CEIL_POOL_ARGS, pool_shape,
            module=True, torch="nn.AvgPool2d", layout=KEEPS,
            rule=POOL_RULE, summary="avg pooling",
            key_args=("kernel_size", "stride", "padding", "ceil_mode")))
for _kind in ("Max", "Avg"):  # over the last dim of [N, C, L]: tokens as channels-first
    register(Op(f"{_kind}Pool1d", "pool", CEIL_POOL_ARGS,
                lambda ctx, ins, a: pool_shape(ctx, ins, a, 1), module=True,
                torch=f"nn.{_kind}Pool1d", layout=KEEPS,
                rule="[N, C, L] -> [N, C, (L + 2*padding - kernel_size) // stride + 1] "
                     "(ceil_mode: rounded up; stride <= kernel_size - padding)",
                summary=f"1-D {_kind.lower()} pooling",
                key_args=("kernel_size", "stride", "padding", "ceil_mode")))


# the input rank each mode takes, as torch checks it (the others take 3 to 5 dims)
_MODE_RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def upsample_shape(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if not 3 <= len(x) <= 5:
        ctx.fail("resampling needs [N, C, *spatial] with 1 to 3 spatial dims")
    rank = _MODE_RANKS.get(a.get("mode") or "nearest")
    if rank is not None and len(x) != rank:
        ctx.fail(f"mode '{a['mode']}' resamples {rank}-d inputs, got {len(x)} dims")
    if a.get("size") is not None:
        if a.get("scale_factor") is not None:  # torch raises ValueError for both
            ctx.fail("give one of 'size' and 'scale_factor', not both")
        return (x[0], x[1], *spatial_arg(ctx, a, "size", len(x) - 2))
    if a.get("scale_factor") is None:
        ctx.fail("give 'size' or 'scale_factor'")
    f = spatial_arg(ctx, a, "scale_factor", len(x) - 2)
    out = tuple(ctx.floor(d * s) for d, s in zip(x[2:], f, strict=False))
    for i, size in enumerate(out, 2):  # a factor below 1 shrinks: at least 1 left
        ctx.at_least(size, 1, f"the resampled output's dim {i}", size)
    return (x[0], x[1], *out)


MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
register(Op(
    "Upsample", "resample",
    (Arg("size", "ints", None), Arg("scale_factor", "floats", None),
     Arg("mode", "str", "nearest", MODES)),
    upsample_shape, module=True, torch="nn.Upsample", layout=KEEPS,
    rule="[N, C, *L] -> [N, C, *floor(L * scale_factor)] (or size)",
    summary="upsampling layer", key_args=("scale_factor", "size", "mode"),
))


def flatten_shape(ctx: ShapeCtx, ins, a):
    x = ins[0]
    start, end = ctx.axis(a["start_dim"], len(x)), ctx.axis(a["end_dim"], len(x))
    if start > end:
        ctx.fail("start_dim comes after end_dim")
    return (*x[:start], prod(x[start:end + 1]), *x[end + 1:])


register(Op("Flatten", "reshape", (Arg("start_dim", "dim", 1), Arg("end_dim", "dim", -1)),
            flatten_shape, module=True, torch="nn.Flatten", rule="merges dims start_dim..end_dim",
            summary="flatten layer", dtype=ANY_DTYPE, layout=KEEPS))
