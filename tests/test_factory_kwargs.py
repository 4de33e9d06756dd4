"""torch.nn's factory kwargs: every generated module takes `device=` and `dtype=` and makes
every parameter and buffer with them (issue 15).

Each library spec and variant is built from its checked-in generated file on the `meta`
device (no memory, so a wrong device shows as a real tensor) and in float64, and runs a
forward in float64. And each layer op's `factory` declaration is checked against the
torch constructor it names.
"""
import inspect
import random
import sys
from pathlib import Path

import pytest
import torch
from attngen import ops
from attngen.build import compile_spec
from attngen.loader import Loader
from attngen.verify import draw_samples, make_inputs
from conftest import REPO_ROOT
from equivalence import load_generated
from torch import nn

LIBRARY = sorted((REPO_ROOT / "specs").glob("*.yaml"))
VARIANTS = sorted((REPO_ROOT / "specs" / "variants").glob("*.yaml"))
CASES = [pytest.param(p, "" if p.parent.name == "specs" else "variants/", id=p.stem)
         for p in LIBRARY + VARIANTS]


def _module_class(path: Path, sub: str):
    checked = compile_spec(path, Loader(), {})
    spec = checked.spec
    sample = draw_samples(spec, 1, random.Random(spec.name))[0]
    generated = load_generated(sub + path.stem)
    return getattr(generated, spec.name), spec, sample


def _tensors(module: torch.nn.Module):
    yield from module.named_parameters()
    yield from module.named_buffers()


@pytest.mark.parametrize(("path", "sub"), CASES)
def test_every_parameter_and_buffer_on_the_device_and_in_the_dtype_given(path, sub):
    cls, spec, sample = _module_class(path, sub)
    classes = [c for c in vars(sys.modules[cls.__module__]).values()
               if isinstance(c, type) and issubclass(c, torch.nn.Module) and c is not nn.Module]
    for c in classes:  # the file's every class: the spec's and its sub-specs'
        assert [(p.name, p.default) for p in inspect.signature(c).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY] == [("device", None),
                                                                  ("dtype", None)], c

    on_meta = cls(**sample.params, device="meta")
    wrong = [name for name, t in _tensors(on_meta) if t.device.type != "meta"]
    assert not wrong, f"{spec.name}: not on the meta device: {wrong}"

    torch.manual_seed(0)
    double = cls(**sample.params, dtype=torch.float64).eval()
    # floating tensors take the dtype; integer buffers (BatchNorm's step count) keep theirs
    wrong = [name for name, t in _tensors(double)
             if t.is_floating_point() and t.dtype != torch.float64]
    assert not wrong, f"{spec.name}: not float64: {wrong}"
    # the parameters (if any) of the module made on meta are the same ones, by name and shape
    assert {n: t.shape for n, t in _tensors(on_meta)} == {n: t.shape for n, t in _tensors(double)}

    inputs = {name: [t.double() for t in value] if isinstance(value, list)
              else value.double() if isinstance(value, torch.Tensor) and value.is_floating_point()
              else value  # None, or an int input
              for name, value in make_inputs(spec, sample).items()}
    with torch.no_grad():
        out = double(**inputs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    assert outs and all(o.dtype == torch.float64 for o in outs if o.is_floating_point())


LAYERS = sorted(name for name in ops.REGISTRY if ops.REGISTRY[name].module)


@pytest.mark.parametrize("name", LAYERS)
def test_an_op_declares_factory_kwargs_exactly_when_its_constructor_takes_them(name):
    op = ops.REGISTRY[name]
    constructor = getattr(torch.nn, op.torch.removeprefix("nn."))
    takes = {"device", "dtype"} <= set(inspect.signature(constructor).parameters)
    assert op.factory == takes, f"{name}: factory={op.factory}, {op.torch} takes them: {takes}"


def test_a_layer_with_factory_kwargs_gets_them_and_one_without_does_not():
    source = (REPO_ROOT / "generated" / "se.py").read_text()
    assert "nn.Linear(channel, channel // reduction, bias=False, **factory_kwargs)" in source
    assert "nn.ReLU(inplace=True)," in source and "AdaptiveAvgPool2d(1)\n" in source
    cbam = (REPO_ROOT / "generated" / "cbam.py").read_text()
    assert "ChannelAttention(in_planes, ratio=ratio, **factory_kwargs)" in cbam
