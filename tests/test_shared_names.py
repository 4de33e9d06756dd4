"""A node may share a param's name where the generated Python keeps them apart (issue 13
point 8): `dropout` the constructor argument and `self.dropout` the layer, as hand-written
modules do. Where forward reads the param too, it is kept as `self._NAME`."""

import ast

import pytest
import torch
from fuzzing import assert_located_errors, build_one, load_generated, scope_problems

HEAD = "name: Shared\nparams:\n  dropout: {default: 0.25}\n  scale: {default: 2.0}\n" \
       "inputs:\n  x: [B, C]\ngraph:\n"

# (graph lines, what forward computes from x at the defaults: None when dropout is active)
ALLOWED = {
    # the originals' `self.dropout = nn.Dropout(dropout)`: the param is read in __init__ only
    "layer": ("  dropout: {op: Dropout, args: [dropout], in: x}\n", None),
    # a tensor function is a local of forward, where the param is `self.scale`
    "function": ("  scale: {op: mul, in: x, other: scale}\n", lambda x: x * 2.0),
    # a layer sharing a name with a param read only in __init__, beside one read in forward
    "both": ("  dropout: {op: Dropout, args: [dropout], in: x}\n"
             "  scaled: {op: mul, in: dropout, other: scale}\n", None),
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_a_node_may_share_a_params_name(tmp_path, case):
    graph, expected = ALLOWED[case]
    outputs = {"layer": "dropout", "function": "scale", "both": "scaled"}[case]
    spec = tmp_path / "shared.yaml"
    spec.write_text(HEAD + graph + f"outputs: {outputs}\n")
    res, target = build_one(spec, tmp_path / "out")
    assert res.code == 0, res.err
    assert scope_problems(ast.parse(target.read_text())) == []
    module = load_generated(target).Shared(dropout=0.5, scale=2.0).eval()
    x = torch.randn(3, 5)
    y = module(x)
    if case in ("layer", "both"):
        assert isinstance(module.dropout, torch.nn.Dropout) and module.dropout.p == 0.5
        assert torch.equal(y, x * (2.0 if case == "both" else 1.0))
    else:
        assert torch.equal(y, expected(x))


def test_a_layer_named_like_a_param_forward_reads_keeps_the_param_apart(tmp_path):
    """`self.scale = nn.Dropout(...)` beside a param `scale` forward reads: the layer is
    self.scale, the param self._scale, as a hand-written module would keep a flag."""
    spec = tmp_path / "shared.yaml"
    spec.write_text(HEAD + "  scale: {op: Dropout, args: [dropout], in: x}\n"
                    "  out: {op: mul, in: scale, other: scale}\noutputs: out\n")
    res, target = build_one(spec, tmp_path / "out")
    assert res.code == 0, res.err
    assert "self._scale = scale" in target.read_text()
    module = load_generated(target).Shared(dropout=0.5, scale=3.0).eval()
    x = torch.randn(3, 5)
    assert isinstance(module.scale, torch.nn.Dropout) and torch.equal(module(x), x * 3.0)


# a conv-like module's `bias` flag and its `bias` parameter (CondConv): made only when the
# flag holds, added only then; the flag was once read back as the parameter (a tensor's
# truth value: an error at run time)
BIAS = """\
name: Biased
params:
  c: 3
  bias: true
inputs:
  x: [B, c]
graph:
  bias: {when: bias, param: [c], init: normal}
  out:
    cases:
      - {when: bias, op: add, in: [x, bias]}
      - {when: not bias, op: identity, in: x}
    shape: [B, c]
outputs: out
"""


@pytest.mark.parametrize("flag", [True, False])
def test_a_param_tensor_named_like_the_flag_that_makes_it(tmp_path, flag):
    spec = tmp_path / "biased.yaml"
    spec.write_text(BIAS)
    res, target = build_one(spec, tmp_path / "out")
    assert res.code == 0, res.err
    module = load_generated(target).Biased(bias=flag)
    x = torch.randn(2, 3)
    assert [k for k, _ in module.named_parameters()] == (["bias"] if flag else [])
    torch.testing.assert_close(module(x), x + module.bias if flag else x)


def test_the_params_own_attribute_taken_is_a_located_error(tmp_path):
    """The param would be self._bias, which a node already is."""
    spec = tmp_path / "biased.yaml"
    spec.write_text(BIAS.replace("graph:\n", "graph:\n  _bias: {param: [c], init: zeros, "
                                 "unused: true}\n"))
    res, _ = build_one(spec, tmp_path / "out")
    assert_located_errors(res)
    assert "biased.yaml:9:3: error[E106]: node 'bias' is self.bias, so forward would read " \
           "param 'bias' (line 4) as self._bias, a name already taken" in res.err, res.err


def test_a_param_a_loop_body_reads_is_kept_apart_too(tmp_path):
    """The body's lines are forward's: its read of param `gain` (beside node `gain`, a
    tensor) is `self._gain`, and a node `_gain` makes that an E106 (it was assigned twice,
    the flag replaced by a layer)."""
    text = BIAS.replace("bias", "gain").replace("graph:\n", "graph:\n  _gain: {op: Linear, "
                                                            "args: [c, c], in: x}\n")
    text = text.replace("""  out:
    cases:
      - {when: gain, op: add, in: [x, gain]}
      - {when: not gain, op: identity, in: x}
    shape: [B, c]
outputs: out""", """  layers:
    each: i in range(2)
    in: _gain
    shape: [B, c]
    body:
      scaled: {op: mul, in: x, other: 2.0 if gain else 1.0}
outputs: layers""")
    spec = tmp_path / "gained.yaml"
    spec.write_text(text)
    res, _ = build_one(spec, tmp_path / "out")
    assert_located_errors(res)
    assert "node 'gain' is self.gain, so forward would read param 'gain' (line 4) as " \
           "self._gain, a name already taken" in res.err, res.err
