"""A node may share a param's name where the generated Python keeps them apart (issue 13
point 8): `dropout` the constructor argument and `self.dropout` the layer, as hand-written
modules do. Both are refused only where both would be `self.NAME`."""

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


def test_a_layer_named_like_a_param_forward_reads_is_refused(tmp_path):
    """`self.scale = scale` (forward reads it) and `self.scale = nn.Dropout(...)` would be
    one attribute: a located error at the node, naming the param."""
    spec = tmp_path / "shared.yaml"
    spec.write_text(HEAD + "  scale: {op: Dropout, args: [dropout], in: x}\n"
                    "  out: {op: mul, in: scale, other: scale}\noutputs: out\n")
    res, _ = build_one(spec, tmp_path / "out")
    assert_located_errors(res)
    assert "shared.yaml:8:3: error[E106]: node 'scale'" in res.err, res.err
    assert "param 'scale'" in res.err and "self.scale" in res.err, res.err
