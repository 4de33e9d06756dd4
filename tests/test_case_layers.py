"""The layer a case of a `cases` node owns is the node's attribute, `self.NAME`, in the
case's branch: the state_dict a hand-written module has (`self.act = nn.SiLU() if act else
nn.Identity()`). Issue 13 point 8 read this as a bug ("registered under the cases node's
name instead of its own"); a case has no name of its own, and a layer a case must own
under another name is a node of its own with `when:`, which the case calls with `apply:`."""

import pytest
import torch
from fuzzing import build_one, load_generated
from torch import nn

SPEC = """\
name: Head
params:
  proj: {type: bool, default: true}
inputs:
  x: [B, 4, H, W]
graph:
  out:
    cases:
      - {when: proj, op: Conv2d, args: [4, 4, 1], in: x}
      - {when: not proj, seq: [{op: BatchNorm2d, args: [4]}, {op: ReLU}], in: x}
    shape: [B, 4, H, W]
outputs: out
"""


class HandWritten(nn.Module):
    def __init__(self, proj: bool = True):
        super().__init__()
        if proj:
            self.out = nn.Conv2d(4, 4, 1)
        else:
            self.out = nn.Sequential(nn.BatchNorm2d(4), nn.ReLU())

    def forward(self, x):
        return self.out(x)


@pytest.mark.parametrize("proj", [True, False])
def test_a_case_layer_has_the_state_dict_of_a_hand_written_module(tmp_path, proj):
    spec = tmp_path / "head.yaml"
    spec.write_text(SPEC)
    res, target = build_one(spec, tmp_path / "out")
    assert res.code == 0, res.err
    generated = load_generated(target).Head(proj=proj).eval()
    reference = HandWritten(proj).eval()
    assert list(generated.state_dict()) == list(reference.state_dict())
    assert generated.load_state_dict(reference.state_dict()) is not None
    x = torch.randn(2, 4, 3, 5)
    assert torch.equal(generated(x), reference(x))


@pytest.mark.parametrize("key, value", [("in", "x"), ("args", "[4]"), ("if_given", "x")])
def test_what_each_case_says_is_refused_on_the_cases_node(tmp_path, capsys, key, value):
    """`in: x` once for all the cases (a natural first try) is located at the key, with
    where it goes; in each case (SPEC), the spec checks."""
    from attngen.cli import main

    moved = SPEC.replace("  out:\n    cases:", f"  out:\n    {key}: {value}\n    cases:")
    path = tmp_path / "head.yaml"
    path.write_text(moved)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"head.yaml:8:5: error[E101]: '{key}' of node 'out' belongs in each case: a " \
        "'cases' node has none of its own\n  note: write it in every case: - {when: ..., " \
        f"{key}: ...}}\n" in err, err
    path.write_text(SPEC)
    assert main(["check", "-q", str(path)]) == 0
