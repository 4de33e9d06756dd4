"""Elementwise tensor functions: sqrt, rsqrt, exp, log, abs, pow, clamp, cast (shape unchanged,
or broadcast for pow's tensor exponent). Their dtype rules are PyTorch's: the exponential
and root family makes floats of int and bool tensors, abs keeps an int tensor int."""

from __future__ import annotations

from ..errors import BAD_ARGUMENTS
from .base import BY_KEYWORD, FLOAT_ONLY, KEEPS, Arg, CallSite, Dtypes, Op, register
from .ctx import ShapeCtx


def _same(ctx: ShapeCtx, ins, a):
    return ins[0]


# torch.sqrt(int tensor) is a float tensor, of a complex one a complex tensor
_FLOATING = Dtypes(("any",), gives="floating")
for _name, _what in (("sqrt", "square root"), ("rsqrt", "reciprocal square root (1 / sqrt)"),
                     ("exp", "exponential"), ("log", "natural logarithm")):
    register(Op(_name, "arith", (), _same, dtype=_FLOATING, call=f"torch.{_name}({{{{ x }}}})",
                layout=KEEPS, rule="elementwise: shape unchanged", summary=f"elementwise {_what}"))

# torch.abs keeps an int tensor int, gives a float of a complex one, and refuses bool
register(Op("abs", "arith", (), _same, dtype=Dtypes(("int|float|complex",), gives="real"),
            call="torch.abs({{ x }})", rule="elementwise: shape unchanged", layout=KEEPS,
            summary="elementwise absolute value (the magnitude of a complex number)"))


def _pow(ctx: ShapeCtx, ins, a):
    given = a["exponent"] is not None
    if given == (len(ins) == 2):
        ctx.fail("pow takes its exponent as 'exponent' (a number) or as a second input (a "
                 "tensor), one of them", BAD_ARGUMENTS)
    return ctx.broadcast(ins)


# The base is float or complex: an int tensor to a number power is int or float depending on
# the number, which a dtype rule does not see. A tensor exponent may be of any number family.
register(Op(
    "pow", "arith", (Arg("exponent", "float", None),), _pow, arity=(1, 2), layout=KEEPS,
    dtype=Dtypes(("float|complex", "int|float|complex")),
    call="{{ x }}.pow({{ ins[1] if ins | length > 1 else exponent }})",
    rule="elementwise; a tensor exponent broadcasts with the input",
    summary="elementwise power: to a number ('exponent') or to a second tensor",
    key_args=("exponent",),
))


def _clamp(ctx: ShapeCtx, ins, a):
    if a["min"] is None and a["max"] is None:
        ctx.fail("clamp needs 'min', 'max' or both", BAD_ARGUMENTS)
    return ins[0]


# float only: an int tensor clamped to a number that is not whole becomes float in torch
register(Op(
    "clamp", "arith", (Arg("min", "float", None), Arg("max", "float", None)), _clamp,
    dtype=FLOAT_ONLY, layout=KEEPS,
    call="torch.clamp({{ x }}" + BY_KEYWORD + ")",
    rule="elementwise: shape unchanged", summary="limit every element to [min, max]",
    key_args=("min",),  # shown positionally: clamp(max=1) must not read clamp(1)
))


# `x.to(torch.float32)`: a module that computes a step in one precision whatever its input's
# (GFNet's global filter casts to float32 before its FFT, which takes no half on CPU); `bool`
# makes a mask of a 0/1 tensor (nonzero: True), `long` indices
CAST_TYPES = ("float16", "bfloat16", "float32", "float64", "bool", "long")


def _cast_call(site: CallSite) -> str:
    return f"{site.ins[0]}.to(torch.{site.values['to']})"


# `y = f(x.float()).type_as(x)`: a step computed in float32 whatever the module's dtype,
# its result given back in the input's (EfficientViT's LiteMLA, an RMSNorm)
register(Op("type_as", "arith", (), _same, arity=(2, 2), dtype=Dtypes(("any",), gives="last"),
            layout=KEEPS, call="{{ ins[0] }}.type_as({{ ins[1] }})",
            rule="input 0's shape, in input 1's dtype",
            summary="convert to another tensor's dtype (x.type_as(y)): back to the input's "
                    "after a step in float32"))
register(Op("cast", "arith", (Arg("to", "str", choices=CAST_TYPES),), _same,
            dtype=Dtypes(("bool|int|float",), from_arg="to"), emit=_cast_call, layout=KEEPS,
            rule="elementwise: shape unchanged",
            summary="convert to another dtype (x.to(torch.float32)): a floating one, bool (a "
                    "mask: nonzero is True) or long", key_args=("to",)))
