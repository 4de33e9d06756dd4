"""A centred spectrum as an attngen op: real in, complex out, the last dim halved plus one."""

from attngen.ops import Arg, Dtypes, Op, register


def spectrum_shape(ctx, ins, args):
    """[..., H, W] -> [..., H, W // 2 + 1]: the FFT of a real signal keeps half its
    frequencies (and the zero one) along the last dim."""
    x = ins[0]
    if len(x) < 2:
        ctx.fail(f"spectrum takes at least 2 dims, got {len(x)}")
    return (*x[:-1], ctx.floor(x[-1] / 2) + 1)


register(Op(
    "spectrum", group="arith",
    args=(Arg("norm", "str", default="backward", choices=("backward", "ortho", "forward")),),
    shape=spectrum_shape, rule="[..., H, W] -> [..., H, W // 2 + 1]",
    summary="2-D FFT of a real signal over the last two dims, zero frequency centred",
    dtype=Dtypes(("float",), "complex"),  # real in, complex out
    call="torch.fft.fftshift(torch.fft.rfft2({{ x }}"
         "{% if 'norm' in given %}, norm={{ norm }}{% endif %}), dim=-2)",
    key_args=("norm",),
))
