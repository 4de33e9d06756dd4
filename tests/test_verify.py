"""`attngen verify`: runtime and torch.export shapes of every spec agree with the spec.

Every spec in specs/ and specs/variants/ is verified (few samples, small budgets);
the negative tests change the generated code or an op template and expect the
mismatch to be reported per node, with exit status 1 and no traceback.
"""

import dataclasses
import subprocess
import sys

import pytest
from attngen import emit, ops, templating, verify
from attngen.build import compile_spec
from attngen.cli import main
from attngen.loader import Loader
from conftest import REPO_ROOT

SPECS = sorted([*(REPO_ROOT / "specs").glob("*.yaml"),
                *(REPO_ROOT / "specs" / "variants").glob("*.yaml")])


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _checked(path):
    return compile_spec(path, Loader(), {})


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(REPO_ROOT)) for p in SPECS])
def test_spec_shapes_hold_at_runtime_and_in_export(path):
    report = verify.verify(_checked(path), n_samples=2)
    assert not report.errors, "\n".join(d.format() for d in report.errors)
    assert any("tensor shapes and dtype families compared" in line for line in report.lines)
    assert any(line.strip().startswith("export:") for line in report.lines)


def test_samples_satisfy_requires_and_cover_configurations():
    checked = _checked(REPO_ROOT / "specs" / "eca.yaml")
    samples = verify.draw_samples(checked.spec, 6, verify.random.Random(0))
    assert len(samples) == 6
    assert all(s.params["kernel_size"] % 2 == 1 for s in samples)
    first = samples[0].dims
    assert first["H"] != first["W"] and first["H"] % 2 == 1  # non-square, odd
    cbam = _checked(REPO_ROOT / "specs" / "cbam.yaml")
    samples = verify.draw_samples(cbam.spec, 2, verify.random.Random(0))
    assert {s.params["kernel_size"] for s in samples} == {3, 7}


REGION = """\
name: Region
params:
  H: {type: int, example: 14}
  h: {type: int, example: 7}
  deploy: false
let:
  split: H != h
requires: [H % h == 0]
inputs:
  x: [B, H]
graph:
  z:
    cases:
      - {when: split, op: relu, in: x}
      - {when: not split, op: identity, in: x}
outputs: z
"""


def test_every_configuration_s_sample_stays_in_its_region(tmp_path):
    """The configuration of `H == h` pins h=14: an int param drawn near its value (2 * v,
    v + 1) left it, so verify ran `split` in every sample (RepMLP's no-global branch was
    never run with deploy=False)."""
    path = tmp_path / "region.yaml"
    path.write_text(REGION)
    checked = _checked(path)
    assert len(checked.configs) == 4
    samples = verify.draw_samples(checked.spec, 24, verify.random.Random(0))
    for i, sample in enumerate(samples):  # sample i is configuration i's (mod 4)
        config = checked.configs[i % 4]
        want = (config["deploy"], config.get("H", 14) != config.get("h", 7))
        assert (sample.params["deploy"], sample.params["H"] != sample.params["h"]) == want, \
            (i, config, sample)


MIXER = """\
name: Tokens
params:
  tokens: {type: int, example: 16}
  patch: {default: 4}
requires:
  - tokens == (H // patch) * (W // patch)   # MLP-Mixer's token count: H, W from 16 to 19
inputs:
  x: [B, C, H, W]
graph:
  y: {op: relu, in: x, shape: [B, C, H, W]}
outputs: y
"""


def test_samples_reach_requirements_beyond_small_dims(tmp_path):
    """No draw from 2 to 12 gives 16 tokens of patches of 4: the wider draws do."""
    path = tmp_path / "tokens.yaml"
    path.write_text(MIXER)
    samples = verify.draw_samples(_checked(path).spec, 3, verify.random.Random(0))
    assert len(samples) == 3
    for s in samples:
        p, d = s.params, s.dims
        assert p["tokens"] == (d["H"] // p["patch"]) * (d["W"] // p["patch"])


def test_requires_no_draw_meets_is_named_at_its_line(tmp_path, capsys):
    path = tmp_path / "tokens.yaml"
    path.write_text(MIXER.replace("(H // patch) * (W // patch)", "H * W * 9973"))
    assert main(["verify", "--no-export", str(path)]) == 1
    err = capsys.readouterr().err
    assert "tokens.yaml:6:5: error[E600]: found no params and dims that satisfy `requires`: " \
           "`tokens == H * W * 9973` failed most often, in 2000 draws of the params near " \
           "their examples and B, C, H, W from 2 to 64" in err, err
    assert "note: divisibility (`H % p == 0`) and equality (`N == n`)" in err


def _patched_render(monkeypatch, old, new):
    original = emit.render

    def render(checked, **options):
        source = original(checked, **options)
        assert old in source
        return source.replace(old, new)

    monkeypatch.setattr(emit, "render", render)


def test_runtime_mismatch_is_reported_at_the_node(monkeypatch):
    """The generated SE drops one column of its output: verify names node 'out'."""
    _patched_render(monkeypatch, "out = x * weight", "out = (x * weight)[..., 1:]")
    report = verify.verify(_checked(REPO_ROOT / "specs" / "se.yaml"), n_samples=2)
    runtime = [d for d in report.errors if d.code == "E600"]
    assert len(runtime) == 2  # once per sample
    assert all("node 'out'" in d.message for d in runtime)
    assert runtime[0].loc.file == "specs/se.yaml" and runtime[0].loc.line > 0
    exported = [d for d in report.errors if d.code == "E601"]
    assert exported and "W - 1" in exported[0].message


def test_verify_runs_the_source_the_spec_refs_option_writes(monkeypatch):
    rendered = []
    original = emit.render

    def render(checked, **options):
        rendered.append(original(checked, **options))
        return rendered[-1]

    monkeypatch.setattr(emit, "render", render)
    report = verify.verify(_checked(REPO_ROOT / "specs" / "se.yaml"), n_samples=1, export=False,
                           spec_refs=True)
    assert not report.errors
    assert "se.yaml:13]\n        avg_pool = " in rendered[-1]
    assert main(["verify", "specs/eca.yaml", "-n", "1", "--no-export", "--spec-refs"]) == 0
    assert "eca.yaml:14]\n        gap = " in rendered[-1]


def test_broken_op_template_is_caught(monkeypatch):
    """`mean` forgets keepdim: the spatial attention module no longer runs."""
    broken = dataclasses.replace(ops.REGISTRY["mean"], call="{{ x }}.mean({{ dim }})")
    monkeypatch.setitem(ops.REGISTRY, "mean", broken)
    templating.call_template.cache_clear()
    try:
        report = verify.verify(_checked(REPO_ROOT / "specs" / "spatial_attention.yaml"),
                               n_samples=1, export=False)
    finally:
        monkeypatch.undo()
        templating.call_template.cache_clear()
    assert report.errors and all(d.code == "E600" for d in report.errors)


def test_cli_exit_status(monkeypatch, capsys):
    assert main(["verify", "specs/eca.yaml", "-n", "1", "--no-export"]) == 0
    assert "ECAAttention: ok" in capsys.readouterr().out
    _patched_render(monkeypatch, "out = x * weight", "out = (x * weight)[..., 1:]")
    assert main(["verify", "specs/eca.yaml", "-n", "1", "--no-export"]) == 1
    err = capsys.readouterr().err
    assert "specs/eca.yaml:" in err and "error[E600]" in err and "Traceback" not in err


def test_build_never_imports_torch(tmp_path):
    code = ("import sys; from attngen.cli import main; "
            f"rc = main(['build', 'specs', '-o', {str(tmp_path)!r}, '--no-svg']); "
            "assert rc == 0, rc; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


def test_a_module_that_cannot_be_built_is_reported_not_crashed_on(tmp_path, capsys):
    """A table too large to allocate: each sample's E600, and the export is not run (it
    built the module again unguarded: an internal error)."""
    path = tmp_path / "big.yaml"
    path.write_text("name: Big\nparams:\n  D: 4\ninputs:\n  ids: {shape: [B, N], dtype: long}\n"
                    "graph:\n  emb: {op: Embedding, args: [1000000000000000, D], in: ids}\n"
                    "outputs: emb\n")
    assert main(["verify", "-n", "1", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "error[E600]: Big raised RuntimeError at sample 1" in err and "internal" not in err
    assert "export: not run, the module cannot be built at the first sample" in out
