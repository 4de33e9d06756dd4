"""Node and layer names with one leading underscore (`_bn0`), so a spec keeps the state_dict
keys of modules that name their layers so (EfficientNet-PyTorch's MBConv: `_depthwise_conv`,
`_se_reduce`, ...): what is allowed, what is not and why, and the list of nn.Module's
private attributes held to torch's."""

import pytest
import torch
from attngen import compile as compile_spec
from attngen import load
from attngen.errors import SpecError
from attngen.names import PRIVATE_MODULE_ATTRS
from torch import nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = """\
name: P
params:
  c: 8
inputs:
  x: [B, c, H, W]
graph:
  _conv: {op: Conv2d, args: [c, c, 1], in: x}
  _gate: {param: [1], init: ones}
  _scaled: {op: mul, in: [_conv, _gate]}
  _seq: {seq: {_act: {op: ReLU}, _bn: {op: BatchNorm2d, args: [c]}}, in: _scaled}
outputs: _seq
"""


def _write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_private_node_and_layer_names_are_the_state_dict_keys(tmp_path):
    module = compile_spec(_write(tmp_path, SPEC))()
    assert list(module.state_dict()) == [
        "_gate", "_conv.weight", "_conv.bias", "_seq._bn.weight", "_seq._bn.bias",
        "_seq._bn.running_mean", "_seq._bn.running_var", "_seq._bn.num_batches_tracked"]
    x = torch.randn(2, 8, 3, 4)
    module.eval()
    want = module._seq(module._conv(x) * module._gate)
    torch.testing.assert_close(module(x), want)


@pytest.mark.parametrize("name, message", [
    ("__conv", "may not be '_' or start with '__' (Python mangles"),
    ("_", "node name '_' is a Python keyword"),
    ("_modules", "would shadow nn.Module's private _modules"),
    ("_parameters", "would shadow nn.Module's private _parameters"),
    ("_sequential", "is reserved: the generated code uses it"),
])
def test_names_that_would_break_the_module_are_refused(tmp_path, name, message):
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, SPEC.replace("_conv", name)))
    (diag,) = info.value.diagnostics
    assert diag.code == "E104" and message in diag.message, diag.message
    assert (diag.loc.line, diag.loc.col) == (7, 3)
    assert not any("'__" in note for note in diag.notes), diag.notes  # no mangled fix


@pytest.mark.parametrize("old, new, what", [
    ("  c: 8", "  _c: 8", "param"), ("  x: [B, c, H, W]", "  _x: [B, c, H, W]", "input")])
def test_other_names_keep_the_rule(tmp_path, old, new, what):
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, SPEC.replace(old, new)))
    (diag,) = info.value.diagnostics
    assert f"{what} name '_" in diag.message, diag.message
    assert any("node and layer names may" in note for note in diag.notes), diag.notes


def test_the_private_attributes_are_torchs():
    private = {n for n in set(dir(nn.Module)) | set(vars(nn.Module()))
               if n.startswith("_") and not n.startswith("__")}
    assert private == PRIVATE_MODULE_ATTRS
