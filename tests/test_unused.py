"""`unused: true`: a layer, param or buffer kept in __init__ (and the state_dict) that forward
never reads, as a reference implementation's dead layer (GFNet's `embedding`).

The generated class against a hand-written one with the same dead layer; parameter counts;
what E302 suggests, and that pasting it checks; the located errors of a misplaced mark; the
diagram, `show` and the docs row; a Spec edited in Python (recheck)."""

import dataclasses

import pytest
import torch
from attngen import compile as compile_spec
from attngen import load
from attngen.cli import main
from attngen.counts import total
from attngen.errors import SpecError
from equivalence import assert_equivalent
from torch import nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KEPT = """\
name: Kept
params:
  c: 8
  k: 3
inputs:
  x: [B, c, L]
graph:
  embedding: {op: Linear, args: [c * 3, c], unused: true}
  stem:      {seq: [{op: Conv1d, args: [c, c, k]}, {op: BatchNorm1d, args: [c]}], unused: true}
  scale:     {param: [c], init: ones, unused: true}
  steps:     {buffer: [c], init: arange, unused: true}
  conv:      {op: Conv1d, args: [c, c, k], padding: k // 2, in: x}
  out:       {op: relu, in: conv}
outputs: out
"""


class Kept(nn.Module):
    """By hand: the same module, its dead layers made in the same order."""

    def __init__(self, c=8, k=3):
        super().__init__()
        self.embedding = nn.Linear(c * 3, c)
        self.stem = nn.Sequential(nn.Conv1d(c, c, k), nn.BatchNorm1d(c))
        self.scale = nn.Parameter(torch.ones(c))
        self.register_buffer("steps", torch.arange(c, dtype=torch.float32))
        self.conv = nn.Conv1d(c, c, k, padding=k // 2)

    def forward(self, x):
        return torch.relu(self.conv(x))


def _write(tmp_path, text, name="kept.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_kept_layers_are_in_the_state_dict_and_forward_never_reads_them(tmp_path):
    cls = compile_spec(_write(tmp_path, KEPT))
    for channels, kwargs in ((8, {}), (4, {"c": 4, "k": 5})):
        assert_equivalent(cls, Kept, kwargs=kwargs,
                          inputs=lambda c=channels: (torch.randn(2, c, 11),))
    module = cls()  # the module's own tensors first, then its layers' (torch's order)
    assert list(module.state_dict())[:5] == ["scale", "steps", "embedding.weight",
                                             "embedding.bias", "stem.0.weight"]
    assert total(load(_write(tmp_path, KEPT)).spec) \
        == sum(p.numel() for p in module.parameters()) == sum(
            p.numel() for p in Kept().parameters())


def test_e302_offers_the_mark_and_the_mark_pasted_checks(tmp_path, capsys):
    text = KEPT.replace(", unused: true}", "}")
    assert main(["check", str(_write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    for name in ("embedding", "stem", "scale", "steps"):
        assert f"error[E302]: node '{name}' does not reach any output" in err
    assert err.count("add 'unused: true' to it") == 4
    assert main(["check", str(_write(tmp_path, KEPT))]) == 0
    # a value no output reads is not offered the mark
    dead = KEPT.replace("  out:  ", "  dead:      {op: sigmoid, in: x}\n  out:  ")
    assert main(["check", str(_write(tmp_path, dead))]) == 1
    err = capsys.readouterr().err
    assert "node 'dead' does not reach any output" in err
    assert "note: remove it, or use its result\n" in err


MISPLACED = [
    # a mark on a node that is read or applied: E302 at it, naming the reader
    ("  out:       {op: relu, in: conv}",
     "  out:       {op: relu, in: conv}\n  again:     {apply: stem, in: x}",
     "E302", "node 'stem' is marked 'unused: true', but node 'again' applies it", 9, 3),
    ("  out:       {op: relu, in: conv}",
     "  pooled:    {op: mean, in: conv, dim: 2}\n  out:       {op: mul, in: [pooled, scale]}",
     "E302", "node 'scale' is marked 'unused: true', but node 'out' reads it", 10, 3),
    # a computed value, a use: sub-module, a case, not a bool
    ("  out:       {op: relu, in: conv}", "  out:       {op: relu, in: conv, unused: true}",
     "E102", "node 'out' reads inputs ('in')", 13, 35),
    ("  steps:", "  sub:       {seq: [{use: se, channel: c}], unused: true}\n  steps:",
     "E102", "node 'sub' is a `seq:` with a sub-module", 11, 45),
    ("  out:       {op: relu, in: conv}",
     "  out:\n    cases:\n      - {when: k > 1, op: relu, in: conv, unused: true}\n"
     "      - {when: k <= 1, op: sigmoid, in: conv}",
     "E102", "a case chooses a computation, it keeps none", 15, 43),
    ("{op: Linear, args: [c * 3, c], unused: true}",
     "{op: Linear, args: [c * 3, c], unused: 1}",
     "E102", "'unused' of node 'embedding' must be true or false, got an integer", 8, 53),
    # its arguments are checked without a call
    ("args: [c * 3, c], unused", "args: [c * 3, c - 9], unused", "E402",
     "has no whole, finite parameter count", 8, 3),
    ("args: [c, c, k]}, {op: BatchNorm1d", "args: [c, c, 0]}, {op: BatchNorm1d", "E402",
     "node 'stem': Conv1d's 'kernel_size' is 0 at the default sizes (must be at least 1)",
     9, 47),
]


@pytest.mark.parametrize("old, new, code, message, line, col", MISPLACED,
                         ids=[m[3][:40] for m in MISPLACED])
def test_a_misplaced_or_bad_mark_is_a_located_error(tmp_path, old, new, code, message, line,
                                                     col):
    assert old in KEPT
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, KEPT.replace(old, new, 1)))
    first = info.value.diagnostics[0]
    assert (first.code, first.loc.line, first.loc.col) == (code, line, col), str(info.value)
    assert message in first.message, first.message


def test_a_sub_specs_param_called_unused_takes_the_key(tmp_path):
    _write(tmp_path, "name: Sub\nparams:\n  unused: 2\ninputs:\n  x: [B, C]\ngraph:\n"
           "  y: {op: mul, in: x, other: unused}\noutputs: y\n", "sub.yaml")
    top = _write(tmp_path, "name: Top\ninputs:\n  x: [B, C]\ngraph:\n"
                 "  s: {use: sub, unused: 3, in: x}\noutputs: s\n", "top.yaml")
    module = compile_spec(top)()
    x = torch.randn(2, 4)
    assert torch.equal(module(x), x * 3)


def test_diagram_show_and_docs_draw_the_kept_layers(tmp_path, capsys):
    spec = _write(tmp_path, KEPT)
    assert main(["build", str(spec), "-o", str(tmp_path / "out"), "--no-svg"]) == 0
    dot = (tmp_path / "out" / "kept.dot").read_text()
    for name in ("embedding", "stem", "scale", "steps"):
        box = next(line for line in dot.splitlines() if line.lstrip().startswith(f'"{name}"'))
        assert "unused: kept in the state_dict" in box
        assert not any(f'-> "{name}"' in line or f'"{name}" ->' in line
                       for line in dot.splitlines())
    assert 'style="rounded,filled,dashed"' in next(
        line for line in dot.splitlines() if line.lstrip().startswith('"embedding"'))
    capsys.readouterr()
    assert main(["show", str(spec), "--width", "120"]) == 0
    shown = capsys.readouterr().out
    assert "embedding" in shown and "Linear(c * 3, c)  [unused: kept in the state_dict]" in shown
    assert main(["docs", str(spec), "-o", str(tmp_path / "docs")]) == 0
    page = (tmp_path / "docs" / "kept.md").read_text()
    assert "| `embedding` | `Linear(c * 3, c)` (unused: kept in the state_dict) |" in page


def test_a_spec_edited_in_python_keeps_the_rule(tmp_path):
    spec = load(_write(tmp_path, KEPT)).spec
    spec.nodes["conv"] = dataclasses.replace(spec.nodes["conv"], unused=True)
    with pytest.raises(SpecError, match="node 'conv' reads inputs"):
        compile_spec(spec)
    spec = load(_write(tmp_path, KEPT)).spec
    spec.nodes["scale"] = dataclasses.replace(spec.nodes["scale"], unused="yes")
    with pytest.raises(SpecError, match="'unused' of node 'scale'"):
        compile_spec(spec)


SUB = """\
name: KeptSub
params:
  c: 32
inputs:
  x: [B, c, H, W]
graph:
  kept: {use: se, channel: c, unused: true}
  out:  {op: relu, in: x}
outputs: out
"""


def test_a_kept_sub_module_is_made_and_checked_as_made(tmp_path):
    from attngen import verify

    loaded = load(_write(tmp_path, SUB))
    module = loaded.compile()()
    assert [k for k in module.state_dict()] == ["kept.fc.0.weight", "kept.fc.2.weight"]
    assert loaded.param_count() == sum(p.numel() for p in module.parameters()) == 2 * 32 * 2
    x = torch.randn(2, 32, 3, 3)
    assert torch.equal(module(x), torch.relu(x))
    assert not verify.verify(loaded.checked, n_samples=2, export=False).errors
    # arguments that make no valid SE: its own check's error, at the node
    with pytest.raises(SpecError) as info:
        load(_write(tmp_path, SUB.replace("channel: c,", "channel: c, reduction: 64,")))
    first = info.value.diagnostics[0]
    assert (first.code, first.loc.line, first.loc.col) == ("E403", 7, 3)
    assert first.message.startswith("node 'kept': SEAttention(channel=32, reduction=64) does "
                                    "not check: node 'fc': dim 1 of Linear's output")
    assert any(n.startswith("at specs/se.yaml:") for n in first.notes)
    with pytest.raises(SpecError, match="node 'kept': GFNetMlp needs argument 'in_features'"):
        load(_write(tmp_path, SUB.replace("{use: se, channel: c,", "{use: gfnet_mlp,")))
