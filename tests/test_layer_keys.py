"""Templated layer names in a named `seq:` (`"fc1_{i}"` with `each: i in range(depth)`):
one key per copy in the outer Sequential, as `add_module('fc1_%d' % i, ...)` makes them by
hand, so such a module's state_dict loads strictly; names in braces are the loop
variable, params or lets; a key made twice or with a '.' is an error at the layer."""

from __future__ import annotations

import attngen
import pytest
from fuzzing import run_cli

torch = pytest.importorskip("torch")
nn = torch.nn

SPEC = """\
name: Stack
params:
  dim: 8
  depth: 3
  norm: true
inputs:
  x: [B, N, dim]
graph:
  mlp:
    in: x
    seq:
      embed: {op: Linear, args: [dim, dim]}
      "fc1_{i}": {each: i in range(depth), op: Linear, args: [dim, dim]}
      "norm_{depth}": {when: norm, op: LayerNorm, args: [dim]}
    shape: [B, N, dim]
outputs: mlp
"""


def _by_hand(dim: int, depth: int, norm: bool) -> nn.Module:
    """What the spec stands for, written as hand-written modules name their layers."""
    mlp = nn.Sequential()
    mlp.add_module("embed", nn.Linear(dim, dim))
    for i in range(depth):
        mlp.add_module("fc1_%d" % i, nn.Linear(dim, dim))  # noqa: UP031 (as originals write it)
    if norm:
        mlp.add_module(f"norm_{depth}", nn.LayerNorm(dim))
    holder = nn.Module()
    holder.mlp = mlp
    return holder


@pytest.mark.parametrize("depth, norm", [(3, True), (1, False), (0, True)])
def test_a_key_per_copy_loads_a_hand_written_state_dict(tmp_path, depth, norm):
    path = tmp_path / "stack.yaml"
    path.write_text(SPEC)
    loaded = attngen.load(str(path))
    assert '**{f"fc1_{i}": nn.Linear(dim, dim, **factory_kwargs) for i in range(depth)}' \
        in loaded.source()
    module = loaded.compile()(depth=depth, norm=norm).eval()
    reference = _by_hand(8, depth, norm).eval()
    assert list(module.state_dict()) == list(reference.state_dict())
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(module(x), reference.mlp(x))


def test_a_spec_object_with_templated_names_compiles(tmp_path):
    """attngen.compile(Spec) checks a spec again as a file would be: a template passes, and
    its key parts must be its name's."""
    path = tmp_path / "stack.yaml"
    path.write_text(SPEC)
    spec = attngen.load(str(path)).spec
    assert len(attngen.compile(spec)().state_dict()) == 2 + 3 * 2 + 2
    item = spec.nodes["mlp"].form.items[1]
    item.key = ("fc2_", *item.key[1:])
    with pytest.raises(attngen.SpecError, match="its key is not its name's parts"):
        attngen.compile(spec)


@pytest.mark.parametrize("name, each, message", [
    ('"fc1_{j}"', "i in range(depth)", "layer name 'fc1_{j}' names 'j', which is not the "
                                       "layer's loop variable, a param or a let"),
    ('"fc1-{i}"', "i in range(depth)", "layer name 'fc1-{i}' is neither an identifier nor a "
                                       "template"),
    ('"embe{i}"', "\"i in ['d']\"", "layer 'embe{i}': 'i' is 'd'; a name in braces must be "
                                    "a whole number"),
    ('"fc_{i}"', '"i in [0.5]"', "layer 'fc_{i}': 'i' is 0.5; a name in braces must be a "
                               "whole number"),
    ('"fc_{depth}"', "i in range(depth)", "layer 'fc_{depth}' makes the key 'fc_3', which "
                                          "layer 'fc_{depth}' has already"),
])
def test_a_wrong_template_is_an_error_at_the_layer(tmp_path, name, each, message):
    path = tmp_path / "stack.yaml"
    path.write_text(SPEC.replace('"fc1_{i}"', name).replace("i in range(depth)", each, 1))
    res = run_cli(["check", path])
    assert res.code == 1 and "stack.yaml:13:7: error[" in res.err and message in res.err, \
        res.err


@pytest.mark.parametrize("seq, where, message", [
    # a plain name a template makes (a_4 at depth 5): refused before any values are tried
    ('      "a_{i}": {each: i in range(depth), op: Linear, args: [dim, dim]}\n'
     "      a_4: {op: ReLU}\n", "13:7", "layer name 'a_4' is a key that 'a_{i}' makes for "
                                       "some values"),
    # a plain layer whose `when` fails still holds its key (an nn.Identity())
    ("      fc_0: {when: not norm, op: Linear, args: [dim, dim]}\n"
     '      "fc_{i}": {when: norm, each: i in range(depth), op: Linear, args: [dim, dim]}\n',
     "12:7", "layer name 'fc_0' is a key that 'fc_{i}' makes for some values"),
    ('      "a_{i}": {each: i in range(depth), op: Linear, args: [dim, dim]}\n'
     '      "a_{j}": {each: j in range(2), op: Linear, args: [dim, dim]}\n', "13:7",
     "layer names 'a_{i}' and 'a_{j}' may make the same key"),
    # text before the braces that differs by a number (b10 from both at depth 11)
    ('      "b1{i}": {each: i in range(depth), op: Linear, args: [dim, dim]}\n'
     '      "b{j}": {each: j in range(depth), op: Linear, args: [dim, dim]}\n', "13:7",
     "layer names 'b1{i}' and 'b{j}' may make the same key"),
    # a name in braces that is no whole number
    ("      \"x_{i}\": {each: \"i in ['a']\", op: ReLU}\n", "12:7",
     "layer 'x_{i}': 'i' is 'a'; a name in braces must be a whole number"),
])
def test_keys_made_twice_are_refused_whatever_the_values(tmp_path, seq, where, message):
    path = tmp_path / "stack.yaml"
    text = SPEC[:SPEC.index("      embed:")] + seq + SPEC[SPEC.index("    shape:"):]
    path.write_text(text)
    res = run_cli(["check", path])
    assert res.code == 1 and f"stack.yaml:{where}: error[" in res.err and message in res.err, \
        res.err
