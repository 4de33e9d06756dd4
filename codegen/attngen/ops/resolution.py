"""Layers that trade spatial size for channels or back: transposed convolution (a learned
upsampling, as decoders and FPN-style necks use it), pixel shuffle and unshuffle."""

from __future__ import annotations

from math import prod

from ..errors import BAD_ARGUMENTS
from .base import ANY_DTYPE, KEEPS, STRIDED, Arg, Op, register
from .ctx import ShapeCtx, number
from .layers import conv_input, per_dim, spatial_arg

# torch's order: output_padding comes before groups, dilation after bias
CONV_TRANSPOSE_ARGS = (
    Arg("in_channels", "int"), Arg("out_channels", "int"), Arg("kernel_size", "ints", low=1),
    Arg("stride", "ints", 1, low=1), Arg("padding", "ints", 0, low=0),
    Arg("output_padding", "ints", 0, low=0), Arg("groups", "int", 1, low=1),
    Arg("bias", "bool", True), Arg("dilation", "ints", 1, low=1),
)


def _conv_transpose_shape(n: int):
    def rule(ctx: ShapeCtx, ins, a):
        x = conv_input(ctx, ins, a, n, f"ConvTranspose{n}d")
        k, s, p, op, d = (spatial_arg(ctx, a, key, n) for key in (
            "kernel_size", "stride", "padding", "output_padding", "dilation"))
        spatial = []
        for i, (size, k_, s_, p_, op_, d_) in enumerate(zip(x[2:], k, s, p, op, d,
                                                           strict=False), 2):
            if all(number(v) is not None for v in (op_, s_, d_)):
                if not (op_ < s_ or op_ < d_):  # torch refuses it when the layer runs
                    ctx.fail(f"output_padding {op_} must be smaller than stride {s_} or "
                             f"dilation {d_} (torch refuses it)", BAD_ARGUMENTS)
            else:  # symbolic: judged at the default sizes, as argument bounds are
                ctx.in_bounds(op_ - s_, None, -1, "output_padding - stride")
            out = (size - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + op_ + 1
            ctx.at_least(out, 1, f"ConvTranspose{n}d's output dim {i}", out)
            spatial.append(out)
        return (x[0], a["out_channels"], *spatial)
    return rule


def _conv_transpose_params(n: int):
    def count(a):
        weight = a["in_channels"] * (a["out_channels"] // a["groups"]) * prod(
            per_dim(a["kernel_size"], n))
        return weight + (a["out_channels"] if a["bias"] else 0)
    return count


for _n in (1, 2):
    register(Op(
        f"ConvTranspose{_n}d", "conv", CONV_TRANSPOSE_ARGS, _conv_transpose_shape(_n),
        module=True, torch=f"nn.ConvTranspose{_n}d", factory=True, layout=KEEPS,
        rule="[N, in_channels, *L] -> [N, out_channels, *((L - 1)*stride - 2*padding + "
             f"dilation*(kernel_size-1) + output_padding + 1)] over {_n} spatial dim(s)",
        summary=f"{_n}-D transposed convolution (learned upsampling)",
        params=_conv_transpose_params(_n),
        key_args=("in_channels", "out_channels", "kernel_size", "stride", "padding",
                  "output_padding", "dilation", "groups"),
    ))


def _pixel_shuffle(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if len(x) < 3:
        ctx.fail(f"PixelShuffle needs [*, C, H, W], got {len(x)} dims")
    r = a["upscale_factor"]
    channels = ctx.exact_div(x[-3], r * r, "upscale_factor ** 2 (the channels each output "
                                           "channel takes)")
    return (*x[:-3], channels, x[-2] * r, x[-1] * r)


def _pixel_unshuffle(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if len(x) < 3:
        ctx.fail(f"PixelUnshuffle needs [*, C, H, W], got {len(x)} dims")
    r = a["downscale_factor"]
    h = ctx.exact_div(x[-2], r, "downscale_factor (into H)")
    w = ctx.exact_div(x[-1], r, "downscale_factor (into W)")
    return (*x[:-3], x[-3] * r * r, h, w)


# a new contiguous tensor for a contiguous input; torch makes it by a permute, so a strided
# input may give a strided output: STRIDED is the safe declaration
register(Op("PixelShuffle", "resample", (Arg("upscale_factor", "int", low=1),),
            _pixel_shuffle, module=True, torch="nn.PixelShuffle", dtype=ANY_DTYPE,
            layout=STRIDED, rule="[*, C * r**2, H, W] -> [*, C, H * r, W * r] (r: "
                                 "upscale_factor)",
            summary="sub-pixel upsampling: channels to space", key_args=("upscale_factor",)))
register(Op("PixelUnshuffle", "resample", (Arg("downscale_factor", "int", low=1),),
            _pixel_unshuffle, module=True, torch="nn.PixelUnshuffle", dtype=ANY_DTYPE,
            layout=STRIDED, rule="[*, C, H * r, W * r] -> [*, C * r**2, H, W] (r: "
                                 "downscale_factor)",
            summary="space to channels (space-to-depth)", key_args=("downscale_factor",)))
