"""torch.compile(module, fullgraph=True) of generated modules (compile_check.py, `attngen
verify --compile`): no graph break, outputs equal to eager's.

The default run traces a few modules (the fused attention ones among them) with the "eager"
backend, which captures the graph as fullgraph demands without generating kernels; the slow
run (`pytest -m slow`) does every spec and variant, and the command line with inductor.
"""

from __future__ import annotations

import functools
import random

import attngen
import pytest
from attngen.cli import main
from attngen.compile_check import check_compile
from attngen.verify import Report, draw_samples, verify
from conftest import REPO_ROOT

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EAGER = functools.partial(check_compile, backend="eager")
SPECS = sorted((REPO_ROOT / "specs").glob("*.yaml")) + sorted(
    (REPO_ROOT / "specs" / "variants").glob("*.yaml"))


def compiled_report(path, backend: str = "eager") -> Report:
    checked = attngen.load(path).checked
    check = functools.partial(check_compile, backend=backend)
    return verify(checked, n_samples=1, export=False, checks=[check])


def _assert_compiles(path):
    report = compiled_report(path)
    assert not report.errors, [d.format() for d in report.errors]
    runs = [line for line in report.lines if line.startswith("  compile: run")]
    assert runs and all(": equal, max difference" in line for line in runs), report.lines
    return runs


@pytest.mark.parametrize("name", ["sdpa", "danet", "fpn"])
def test_a_module_compiles_whole(name):
    runs = _assert_compiles(REPO_ROOT / "specs" / f"{name}.yaml")
    if name == "sdpa":  # the fused module chooses at run time: both choices traced, equal
        assert any("no optional inputs" in line for line in runs)
        assert any("attention_mask, attention_weights" in line for line in runs)


def test_emsa_compiles_whole_where_it_fuses():
    """EMSA without its head mixing takes the fused call (fusion.py's identity cases)."""
    loaded = attngen.load(REPO_ROOT / "specs" / "emsa.yaml")
    samples = draw_samples(loaded.checked.spec, 8, random.Random(0))
    sample = next(s for s in samples if not s.params["apply_transform"] and s.params["h"] > 1)
    report = Report(loaded.spec.file, loaded.name)
    EAGER(loaded.checked, loaded.source(), sample, report)
    assert not report.errors, [d.format() for d in report.errors]
    assert any(": equal, max difference" in line for line in report.lines), report.lines


ONE_HEAD = """\
name: OneHead
inputs:
  q: [B, L, 8]
  k: [B, S, 8]
  v: [B, S, 8]
  m: {shape: [B, L, S], optional: true, dtype: bool}
graph:
  kt:     {op: transpose, in: k, dim0: 1, dim1: 2}
  scores: {op: matmul, in: [q, kt]}
  masked: {op: masked_fill, in: [scores, m], value: -inf, if_given: m}
  probs:  {op: softmax, in: masked, dim: -1}
  out:    {op: matmul, in: [probs, v]}
  op:     {op: attention, in: [q, k, v, m], if_given: m}
  both:   {op: add, in: [out, op]}
outputs: both
"""


def test_calls_given_four_dims_compile_whole(tmp_path):
    """The fused call and the attention op over three dims, with a mask of three: their
    inputs given four dims and the result its own back, in one graph."""
    path = tmp_path / "one_head.yaml"
    path.write_text(ONE_HEAD)
    assert "q.unsqueeze(0)" in attngen.load(path).source()
    _assert_compiles(path)


@pytest.mark.slow
def test_vit_attention_compiles_with_inductor():
    """Over 5-D tensors, inductor (torch 2.13) fails on softmax(q @ k * s) @ v ("Attempting to
    broadcast a dimension"), the form of External-Attention-pytorch's MobileViT; the spec
    divides by sqrt(head_dim), which it compiles."""
    report = compiled_report(REPO_ROOT / "specs" / "vit_attention.yaml", backend="inductor")
    assert not report.errors, [d.format() for d in report.errors]


@pytest.mark.slow
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_module_compiles_whole(path):
    _assert_compiles(path)


def test_a_graph_break_is_an_error():
    loaded = attngen.load("eca")
    source = loaded.source().replace("        gap = self.gap(x)\n",
                                     "        torch._dynamo.graph_break()\n"
                                     "        gap = self.gap(x)\n")
    assert "graph_break" in source
    sample = draw_samples(loaded.checked.spec, 1, random.Random(0))[0]
    report = Report(loaded.spec.file, loaded.name)
    EAGER(loaded.checked, source, sample, report)
    assert [d.code for d in report.errors] == ["E601"], report.errors
    assert "torch.compile(fullgraph=True) failed" in report.errors[0].message


@pytest.mark.slow
def test_verify_compile_on_the_command_line(capsys):
    """With inductor, torch.compile's default backend."""
    assert main(["verify", str(REPO_ROOT / "specs" / "sdpa.yaml"), "--compile", "-n", "1",
                 "--no-export"]) == 0
    out = capsys.readouterr().out
    assert "compile: run 1" in out and "DIFFERENT" not in out, out
