"""Constants: tensors made in forward, on the device of an input (`like`).

A tensor function takes at least one tensor input today (a node without `in:` declares a
layer), and a tensor made without one would sit on the CPU whatever the module's device.
So every constant here reads one input: its shape (`*_like`), or only its device, and its
dtype where the constant has no dtype of its own.
"""

from __future__ import annotations

from ..errors import BAD_ARGUMENTS
from .base import ANY_DTYPE, FRESH, KEEPS, Arg, CallSite, Dtypes, Group, Op, add_group, register
from .ctx import ShapeCtx

add_group(Group("constant", "#f6e6f4", "#9a4a8c", "constants"))


def _same(ctx: ShapeCtx, ins, a):
    return ins[0]


_LIKE = "the input's shape, dtype and device"
# *_like keeps the input's strides (torch's preserve_format); the others make new tensors
register(Op("zeros_like", "constant", (), _same, dtype=ANY_DTYPE, layout=KEEPS,
            call="torch.zeros_like({{ x }})", rule="the input's shape",
            summary=f"zeros of {_LIKE}"))
register(Op("ones_like", "constant", (), _same, dtype=ANY_DTYPE, layout=KEEPS,
            call="torch.ones_like({{ x }})", rule="the input's shape",
            summary=f"ones of {_LIKE}"))
register(Op("full_like", "constant", (Arg("fill_value", "float"),), _same, dtype=ANY_DTYPE,
            layout=KEEPS,
            call="torch.full_like({{ x }}, {{ fill_value }})", rule="the input's shape",
            summary=f"a constant of {_LIKE}", key_args=("fill_value",)))


def _sized(ctx: ShapeCtx, ins, a):
    return tuple(a["size"])


_NEW = "the input's dtype and device (its shape unused)"
for _name, _what in (("zeros", "zeros"), ("ones", "ones")):
    register(Op(_name, "constant", (Arg("size", "shape"),), _sized, dtype=ANY_DTYPE, layout=FRESH,
                call=f"{{{{ x }}}}.new_{_name}({{{{ size }}}})", rule="[*size]",
                summary=f"{_what} of shape `size` with {_NEW}", key_args=("size",)))
register(Op("full", "constant", (Arg("size", "shape"), Arg("fill_value", "float")), _sized,
            dtype=ANY_DTYPE, layout=FRESH,
            call="{{ x }}.new_full([{{ size }}], {{ fill_value }})",
            rule="[*size]", summary=f"a constant of shape `size` with {_NEW}",
            key_args=("size", "fill_value")))


def _listed(ctx: ShapeCtx, ins, a):
    if not isinstance(a["data"], tuple):
        ctx.fail("'data' is a list of numbers: [1.0 / H, 1.0 / W]", BAD_ARGUMENTS)
    return (len(a["data"]),)


register(Op("tensor", "constant", (Arg("data", "floats"),), _listed, dtype=ANY_DTYPE,
            layout=FRESH, call="{{ x }}.new_tensor({{ data }})", rule="[len(data)]",
            summary=f"the numbers `data` (expressions, dims too) as a 1-D tensor with {_NEW}",
            key_args=("data",)))


def _arange(ctx: ShapeCtx, ins, a):
    start, end, step = a["start"], a["end"], a["step"]
    size = ctx.floor((end - start + step - 1) / step)
    ctx.at_least(end - start, 1, "arange's length", size)  # end past start, for every size
    return (size,)


register(Op("arange", "constant",
            (Arg("end", "int"), Arg("start", "int", 0), Arg("step", "int", 1, low=1)),
            _arange, dtype=Dtypes(("any",), "int"), layout=FRESH,
            call="torch.arange({% if 'start' in given or 'step' in given %}{{ start }}, "
                 "{% endif %}{{ end }}"
                 "{% if 'step' in given %}, {{ step }}{% endif %}, device={{ x }}.device)",
            rule="[ceil((end - start) / step)]; at least 1",
            summary="the integers start, start + step, ... below end (int64, on the "
                    "input's device)", key_args=("end", "start", "step")))


def _eye(ctx: ShapeCtx, ins, a):
    return (a["n"], a["n"] if a["m"] is None else a["m"])


_EYE_DTYPES = {"bool": "torch.bool", "long": "torch.long"}


def _eye_call(site: CallSite) -> str:
    """`torch.eye(n, m, dtype=..., device=x.device)`: the input's dtype, or the one `dtype`
    names (`bool`: a diagonal mask for masked_fill), written as torch's name for it."""
    sizes = ", ".join(site.args[k] for k in ("n", "m") if k in site.args)
    x = site.ins[0]
    dtype = _EYE_DTYPES.get(str(site.values.get("dtype")), f"{x}.dtype")
    return f"torch.eye({sizes}, dtype={dtype}, device={x}.device)"


register(Op("eye", "constant",
            (Arg("n", "int", low=1), Arg("m", "int", None, low=1),
             Arg("dtype", "str", None, choices=tuple(_EYE_DTYPES))), _eye,
            dtype=Dtypes(("any",), from_arg="dtype"),
            emit=_eye_call, layout=FRESH,
            rule="[n, m] (m defaults to n)",
            summary=f"the identity matrix (ones on the diagonal) with {_NEW}; dtype bool "
                    "or long gives that dtype instead (bool: a diagonal mask)",
            key_args=("n", "m", "dtype")))


def _linspace(ctx: ShapeCtx, ins, a):
    return (a["steps"],)


def _linspace_call(site: CallSite) -> str:
    """`torch.linspace(start, end, steps, dtype=x.dtype, device=x.device)`: the input's
    dtype and device (a float input: the dtype rule)."""
    x = site.ins[0]
    args = ", ".join(site.args.get(k, default) for k, default in
                     (("start", "0.0"), ("end", "1.0"))) + f", {site.args['steps']}"
    return f"torch.linspace({args}, dtype={x}.dtype, device={x}.device)"


register(Op("linspace", "constant",
            (Arg("steps", "int", low=1), Arg("start", "float", 0.0), Arg("end", "float", 1.0)),
            _linspace, dtype=Dtypes(("float",), "same"), emit=_linspace_call, layout=FRESH,
            onnx_caveat=lambda a: "" if isinstance(a.get("steps"), int) else (
                "ONNX export computes its values at the export's size (steps from an input "
                "dim), so at another size they no longer fit the map"),
            rule="[steps]",
            summary="steps evenly spaced values from start to end, both included (a "
                    "coordinate grid's axis), with the input's dtype and device (its shape "
                    "unused)", key_args=("steps", "start", "end")))
