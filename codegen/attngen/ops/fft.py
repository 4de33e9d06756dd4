"""Fourier transforms over two dims (`torch.fft`) and the complex <-> real views: the ops of
global filters (GFNet: a learned complex weight multiplies a feature map's spectrum).

`rfft2` takes a real tensor to the complex half-spectrum (the last of its two dims halved
plus one: the other half mirrors it); `irfft2` takes it back, to the sizes `s` where given
(the way back cannot tell an odd size from the even one below it); `fft2` and `ifft2` keep
every size. `view_as_complex` reads a float tensor's last dim of 2 as (real, imaginary),
`view_as_real` the other way; both are views. Every one may give a strided tensor: over
dims other than the last ones, torch's transforms keep the input's dim order in memory
only partly ((2, 6, 5, 4) over dims (1, 2): strides (120, 5, 1, 30)).
"""

from __future__ import annotations

from ..errors import BAD_ARGUMENTS
from .base import STRIDED, Arg, Dtypes, Op, register
from .ctx import ShapeCtx

NORMS = ("backward", "ortho", "forward")
_DIM = Arg("dim", "dim_list", (-2, -1))
_NORM = Arg("norm", "str", "backward", NORMS)
# `dim=(1, 2)`, `norm='ortho'`: each written only where the spec gives it
_GIVEN = ("{% if 'dim' in given %}, dim=({{ dim }}){% endif %}"
          "{% if 'norm' in given %}, norm={{ norm }}{% endif %}")


def _axes(ctx: ShapeCtx, x, a) -> tuple[int, int]:
    """The two dims a transform runs over, as 0 <= index < rank."""
    dims = a["dim"]
    if len(dims) != 2:
        ctx.fail(f"'dim' names {len(dims)} dims; a 2-D transform takes 2", BAD_ARGUMENTS)
    first, last = (ctx.axis(d, len(x)) for d in dims)
    if first == last:
        ctx.fail(f"'dim' {list(dims)} names one dim twice", BAD_ARGUMENTS)
    return first, last


def _rfft2(ctx: ShapeCtx, ins, a):
    x = list(ins[0])
    _, last = _axes(ctx, x, a)
    x[last] = ctx.floor(x[last] / 2) + 1
    return tuple(x)


def _irfft2(ctx: ShapeCtx, ins, a):
    x = list(ins[0])
    first, last = _axes(ctx, x, a)
    if a["s"] is None:
        ctx.at_least(x[last], 2, "the halved dim of irfft2 without 's'")
        x[last] = 2 * (x[last] - 1)
        return tuple(x)
    if len(a["s"]) != 2:
        ctx.fail(f"'s' has {len(a['s'])} sizes, one per dim of 'dim' (2)", BAD_ARGUMENTS)
    # torch reads the first s[1] // 2 + 1 frequencies and pads with zeros where there are
    # fewer: any size is accepted, but the input is the half-spectrum of one that size
    ctx.eq(x[last], ctx.floor(a["s"][1] / 2) + 1, f"dim {last} of the input",
           "s[1] // 2 + 1 (the half-spectrum of a signal of size s[1])")
    x[first], x[last] = a["s"]
    return tuple(x)


def _same(ctx: ShapeCtx, ins, a):
    _axes(ctx, ins[0], a)
    return ins[0]


register(Op(
    "rfft2", "arith", (_DIM, _NORM), _rfft2, dtype=Dtypes(("float",), "complex"),
    layout=STRIDED, call="torch.fft.rfft2({{ x }}" + _GIVEN + ")",
    rule="the last of `dim` becomes n // 2 + 1 (the half-spectrum); float -> complex",
    summary="2-D FFT of a real signal (torch.fft.rfft2)", key_args=("dim", "norm"),
))
register(Op(
    "irfft2", "arith", (Arg("s", "shape", None), _DIM, _NORM), _irfft2,
    dtype=Dtypes(("complex",), "float"), layout=STRIDED,
    call="torch.fft.irfft2({{ x }}{% if 's' in given %}, s=({{ s }}){% endif %}" + _GIVEN + ")",
    rule="`dim` become `s` (the last of them then n // 2 + 1 in the input), or without `s` the "
         "last 2 * (n - 1); complex -> float",
    summary="inverse of rfft2 (torch.fft.irfft2)", key_args=("s", "dim", "norm"),
))
for _name, _what in (("fft2", "2-D FFT"), ("ifft2", "inverse 2-D FFT")):
    register(Op(
        _name, "arith", (_DIM, _NORM), _same, dtype=Dtypes(("float|complex",), "complex"),
        layout=STRIDED, call=f"torch.fft.{_name}({{{{ x }}}}" + _GIVEN + ")",
        rule="shape unchanged; -> complex", summary=f"{_what} over `dim` (torch.fft.{_name})",
        key_args=("dim", "norm"),
    ))


def _view_as_complex(ctx: ShapeCtx, ins, a):
    x = ins[0]
    if len(x) < 1:
        ctx.fail("view_as_complex takes at least 1 dim ([..., 2])")
    ctx.eq(x[-1], 2, "the last dim", "2 (real and imaginary parts)")
    return tuple(x[:-1])


register(Op(
    "view_as_complex", "reshape", (), _view_as_complex, dtype=Dtypes(("float",), "complex"),
    layout=STRIDED, call="torch.view_as_complex({{ x }})",
    rule="[..., 2] -> [...]: the last dim read as (real, imaginary)",
    summary="a float tensor's last dim of 2 as complex numbers (a view)",
))
register(Op(
    "view_as_real", "reshape", (), lambda ctx, ins, a: (*ins[0], 2),
    dtype=Dtypes(("complex",), "float"), layout=STRIDED, call="torch.view_as_real({{ x }})",
    rule="[...] -> [..., 2]: (real, imaginary) in a last dim",
    summary="complex numbers as a float tensor's last dim of 2 (a view)",
))
