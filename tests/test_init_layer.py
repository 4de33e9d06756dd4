"""`init:` rules for one layer (`{layer: bn, weight: zeros}`): after the rules by type, on
that node's layer only (a residual branch's last BatchNorm zeroed, as timm's ResNets do),
with located errors for a name that is no such layer."""

import dataclasses
import re

import pytest
import torch
from attngen import compile as compile_spec
from attngen import load
from attngen.errors import SpecError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = """\
name: ZeroLast
params:
  c: 8
  extra: {default: false}
inputs:
  x: [B, c, H, W]
graph:
  conv1: {op: Conv2d, args: [c, c, 3], padding: 1, in: x}
  act:   {op: ReLU, in: conv1}
  conv2: {op: Conv2d, args: [c, c, 3], padding: 1, in: act}
  bn:    {op: BatchNorm2d, args: [c], in: conv2}
  more:  {op: BatchNorm2d, args: [c], in: bn, when: extra}
  out:   {op: add, in: [bn, x]}
outputs: [out, {name: more, when: extra}]
init:
  - {op: BatchNorm2d, weight: ones, bias: zeros}
  - {layer: bn, weight: zeros}
"""


def _write(tmp_path, text=SPEC):
    path = tmp_path / "z.yaml"
    path.write_text(text)
    return path


def test_the_layer_rule_comes_after_the_type_rules_and_touches_one_layer(tmp_path):
    module = compile_spec(_write(tmp_path))(extra=True)
    assert torch.equal(module.bn.weight, torch.zeros(8))  # ones by type, then zeros
    assert torch.equal(module.more.weight, torch.ones(8))
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(module.eval()(x)[0], x)  # the branch starts as the identity
    source = load(_write(tmp_path)).source()
    assert "        m = self.bn\n        nn.init.zeros_(m.weight)\n" in source


@pytest.mark.parametrize("rule, code, message, line", [
    ("{layer: cnv2, weight: zeros}", "E300", "no node 'cnv2' in the graph; did you mean "
     "'conv2'", 17),
    ("{layer: act, weight: zeros}", "E102", "is a ReLU, which has no parameters", 17),
    ("{layer: more, weight: zeros}", "E102", "exists only where its `when` holds", 17),
    ("{layer: out, weight: zeros}", "E102", "is not one op layer", 17),
    ("{op: Conv2d, layer: bn, weight: zeros}", "E103", "'op' (a layer type", 17),
    ("{layer: bn, weight: ones}\n  - {layer: bn, bias: zeros}", "E106",
     "a second init rule for layer bn", 18),
])
def test_a_rule_for_no_such_layer_is_a_located_error(tmp_path, rule, code, message, line):
    text = SPEC.replace("{layer: bn, weight: zeros}", rule)
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    (diag,) = info.value.diagnostics
    assert diag.code == code and message in diag.message, diag
    assert diag.loc.line == line


def test_a_spec_edited_in_python_keeps_the_rule(tmp_path):
    spec = load(_write(tmp_path)).spec
    rule = spec.init[1]
    spec.init[1] = dataclasses.replace(rule, layer="act")
    with pytest.raises(SpecError, match="init: layer 'act' must name a node"):
        compile_spec(spec)


SHIFT = """\
name: Shifts
params:
  c: 4
  k: 3
inputs:
  x: [B, c * k * k, H, W]
graph:
  dep_conv: {op: Conv2d, args: [k * k * c, 2 * c, k], padding: k // 2, groups: c,
             bias: false, in: x}
outputs: dep_conv
init:
  - {layer: dep_conv, weight: shift}
"""


def test_shift_kernels_are_acmixs(tmp_path):
    """ACmix's reset_parameters: kernel[i, i // k, i % k] = 1, repeated for every output."""
    module = compile_spec(_write(tmp_path, SHIFT))(c=4, k=3)
    kernel = torch.zeros(9, 3, 3)
    for i in range(9):
        kernel[i, i // 3, i % 3] = 1.0
    assert torch.equal(module.dep_conv.weight, kernel.repeat(8, 1, 1, 1))
    x = torch.zeros(1, 36, 5, 6)
    x[0, 4] = torch.randn(5, 6)  # the centre position of group 0: no shift
    torch.testing.assert_close(module(x)[0, 0], x[0, 4])
    x = torch.zeros(1, 36, 5, 6)
    x[0, 0] = torch.randn(5, 6)  # the top-left position: moved one down and one right
    torch.testing.assert_close(module(x)[0, 0, 1:, 1:], x[0, 0, :-1, :-1])


@pytest.mark.parametrize("old, new, message", [
    ("{layer: dep_conv, weight: shift}", "{op: Conv2d, weight: shift}",
     "init weight 'shift' is a Conv2d's, set for one layer"),
    ("groups: c,", "groups: 2 * c,",
     "needs in_channels // groups (4 at the defaults) to be the kernel's positions (3 x 3)"),
])
def test_shift_needs_one_conv_with_a_channel_per_position(tmp_path, old, new, message):
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, SHIFT.replace(old, new)))
    assert message in info.value.diagnostics[0].message


def test_a_shift_for_a_kernel_of_the_wrong_length_is_the_checkers_error(tmp_path):
    """The shift check reads the arguments at the defaults; one it cannot read is left to
    the checker, which locates it (no traceback)."""
    text = SHIFT.replace("args: [k * k * c, 2 * c, k]", "args: [k * k * c, 2 * c, [k]]")
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, text))
    assert "'kernel_size' has 1 values for 2 spatial dim(s)" in \
        info.value.diagnostics[0].message


def test_a_truncated_normal_rule_as_timm_initialises_its_linears(tmp_path):
    """`trunc_normal_(m.weight, std=.02)` (ViT, Swin, PVT; ultralytics' ABlock): one rule,
    the call written with the options given, the values cut at a and b."""
    path = tmp_path / "t.yaml"
    path.write_text("name: Trunc\nparams:\n  c: 256\ninputs:\n  x: [B, c]\ngraph:\n"
                    "  fc: {op: Linear, args: [c, c], in: x}\noutputs: fc\ninit:\n"
                    "  - {op: Linear, weight: trunc_normal, std: 0.5, a: -0.25, b: 0.75, "
                    "bias: zeros}\n")
    loaded = load(path)
    assert "nn.init.trunc_normal_(m.weight, std=0.5, a=-0.25, b=0.75)" in loaded.source()
    torch.manual_seed(0)
    weight = compile_spec(loaded)().fc.weight.detach()
    assert float(weight.min()) >= -0.25 and float(weight.max()) <= 0.75
    assert float(weight.min()) < -0.2 and float(weight.max()) > 0.7  # cut, not shrunk


@pytest.mark.parametrize("options, message", [
    ("trunc_normal, a: 1.0, b: 0.5", "init 'a' (the lower cut-off, default -2.0) must be below"),
    ("trunc_normal, a: 3.0", "init 'a' (the lower cut-off, default -2.0) must be below 'b'"),
    # torch divides by it (a ZeroDivisionError when the module was built; a review)
    ("trunc_normal, std: 0", "init 'std' of trunc_normal must be above 0"),
    # the option's initialiser first: the bounds are trunc_normal's
    ("normal, a: 3.0", "init 'a' applies only to weight: trunc_normal, not to this rule"),
])
def test_truncated_normal_bounds_are_ordered(tmp_path, options, message):
    path = tmp_path / "t.yaml"
    path.write_text("name: Trunc\nparams:\n  c: 4\ninputs:\n  x: [B, c]\ngraph:\n"
                    "  fc: {op: Linear, args: [c, c], in: x}\noutputs: fc\ninit:\n"
                    f"  - {{op: Linear, weight: {options}}}\n")
    with pytest.raises(SpecError, match=re.escape(message)):
        load(path)
