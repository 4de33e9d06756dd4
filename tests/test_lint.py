"""Warnings (lint.py): W100, adaptive pooling of a free input size, which ONNX export fixes.

Located like errors, printed by `check` and `build` without failing them (`-W error`: as
errors), once each however many configurations or specs reach them, in the sub-spec's file
for a sub-spec; listed on the spec's docs page and in `attngen serve`'s view.
"""

import re

import pytest
from attngen import docs
from attngen.cli import main
from attngen.errors import ONNX_FIXED_WINDOW
from attngen.lint import warnings_of
from attngen.live import Workspace
from conftest import REPO_ROOT

POOL7 = """\
name: Pool7
inputs:
  x: [B, C, H, W]
graph:
  pool: {op: AdaptiveAvgPool2d, args: [7], in: x, shape: [B, C, 7, 7]}
outputs: pool
"""
WARNING = ("pool7.yaml:5:40: warning[W100]: node 'pool': AdaptiveAvgPool2d from (B, C, H, W) "
           "to (B, C, 7, 7) pools the free input sizes H and W: its ONNX export fixes the "
           "window at the export's input size, so the exported model differs from PyTorch at "
           "other sizes")


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # locations as the CLI shows them: file names
    (tmp_path / "pool7.yaml").write_text(POOL7, encoding="utf-8")
    return tmp_path


def _spec(folder, name, graph, inputs="x: [B, C, H, W]", extra=""):
    (folder / f"{name}.yaml").write_text(
        f"name: {name.title().replace('_', '')}\n{extra}inputs:\n  {inputs}\ngraph:\n{graph}"
        "outputs: out\n", encoding="utf-8")
    return f"{name}.yaml"


def test_check_prints_the_warning_located_and_exits_0(work, capsys):
    assert main(["check", "pool7.yaml"]) == 0
    out, err = capsys.readouterr()
    assert "pool7.yaml: Pool7 ok" in out  # the shapes are printed as ever
    assert err.splitlines()[0] == WARNING
    assert err.splitlines()[1].startswith("  note: only global pooling")
    assert err.splitlines()[-1] == "attngen: 1 warning"


@pytest.mark.parametrize("flag", [["-W", "error"], ["-Werror"]])
def test_w_error_makes_it_an_error(work, capsys, flag):
    assert main(["check", "-q", *flag, "pool7.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == WARNING.replace("warning[W100]", "error[W100]")
    assert err.splitlines()[-1] == "attngen: 1 error in pool7.yaml"


def test_build_warns_writes_and_exits_0_but_not_with_w_error(work, capsys):
    assert main(["build", "--no-svg", "pool7.yaml", "-o", "out"]) == 0
    assert WARNING in capsys.readouterr().err
    assert (work / "out" / "pool7.py").is_file()
    (work / "pool7.yaml").write_text(POOL7.replace("Pool7", "Pool7b"), encoding="utf-8")
    assert main(["build", "--no-svg", "-W", "error", "pool7.yaml", "-o", "out2"]) == 1
    assert WARNING.replace("warning[W100]", "error[W100]") in capsys.readouterr().err
    assert not (work / "out2").exists()  # a spec that warns writes nothing under -W error


@pytest.mark.parametrize("graph, inputs", [
    # global pooling is exported as such
    ("  out: {op: AdaptiveAvgPool2d, args: [1], in: x, shape: [B, C, 1, 1]}\n", None),
    ("  out: {op: AdaptiveMaxPool2d, args: [[1, 1]], in: x, shape: [B, C, 1, 1]}\n", None),
    # None keeps a dim: nothing pooled
    ("  out: {op: AdaptiveAvgPool2d, args: [[None, None]], in: x, shape: [B, C, H, W]}\n",
     None),
    # sizes of params alone are fixed for a constructed module: a static export
    ("  out: {op: AdaptiveAvgPool2d, args: [7], in: x, shape: [B, C, 7, 7]}\n",
     "x: [B, C, size, size]"),
    # a dim provably its output size is not pooled (window 1)
    ("  out: {op: AdaptiveAvgPool2d, args: [[None, 7]], in: x, shape: [B, C, H, 7]}\n",
     "x: [B, C, H, 7]"),
], ids=["global", "global-max", "none", "param-sizes", "equal-size"])
def test_no_warning_where_the_export_adapts_or_is_static(tmp_path, monkeypatch, capsys,
                                                         graph, inputs):
    monkeypatch.chdir(tmp_path)
    extra = "params:\n  size: {default: 14}\n" if inputs and "size" in inputs else ""
    name = _spec(tmp_path, "quiet", graph, inputs or "x: [B, C, H, W]", extra)
    assert main(["check", "-q", "-W", "error", name]) == 0
    assert capsys.readouterr().err == ""


def test_a_size_that_divides_still_warns(tmp_path, monkeypatch, capsys):
    """Measured: (7, 7) exported at 28x28 gives 14x14 at 56x56; `requires` does not help."""
    monkeypatch.chdir(tmp_path)
    name = _spec(tmp_path, "divides", "  out: {op: AdaptiveMaxPool2d, args: [7], in: x, "
                 "shape: [B, C, 7, 7]}\n", extra="requires:\n  - H % 7 == 0\n  - W % 7 == 0\n")
    assert main(["check", "-q", name]) == 0
    assert "warning[W100]: node 'out': AdaptiveMaxPool2d" in capsys.readouterr().err


def test_a_functional_pool_over_a_window_of_input_sizes_warns(tmp_path, monkeypatch, capsys):
    """BiFormer's regions: avg_pool2d with a kernel of H // n and W // n. A kernel of params
    alone is fixed for a constructed module: no warning."""
    monkeypatch.chdir(tmp_path)
    extra = "params:\n  n: {default: 7}\nrequires:\n  - H % n == 0\n  - W % n == 0\n"
    name = _spec(tmp_path, "regions", "  out: {op: avg_pool2d, in: x, kernel_size: "
                 "[H // n, W // n], shape: [B, C, n, n]}\n", extra=extra)
    assert main(["check", "-q", name]) == 0
    err = capsys.readouterr().err
    assert "warning[W100]: node 'out': avg_pool2d's kernel_size (H // n, W // n) reads the " \
           "free input sizes H and W: its ONNX export fixes the window" in err, err
    name = _spec(tmp_path, "by_params", "  out: {op: max_pool2d, in: x, kernel_size: n, "
                 "stride: n}\n", extra=extra)
    assert main(["check", "-q", "-W", "error", name]) == 0
    assert capsys.readouterr().err == ""


SUB = """\
name: Sub
params:
  gate: {default: true}
inputs:
  x: [B, C, H, W]
graph:
  pool: {seq: [{op: AdaptiveAvgPool2d, args: [[2, 1]]}], in: x}
  out:
    cases:
      - {when: gate, op: Sigmoid, in: pool}
      - {when: not gate, op: Tanh, in: pool}
outputs: out
"""
TOP = """\
name: Top
inputs:
  x: [B, C, H, W]
graph:
  s: {use: sub, in: x}
  out: {op: mean, in: s, dim: [2, 3]}
outputs: out
"""


def test_once_for_all_configurations_and_specs(tmp_path, monkeypatch, capsys):
    """A bool param: two configurations, one warning; a `seq:` layer warns too; checked
    with a spec that `use:`s it, the sub-spec's warning is printed once, at its file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub.yaml").write_text(SUB, encoding="utf-8")
    (tmp_path / "top.yaml").write_text(TOP, encoding="utf-8")
    assert main(["check", "-q", "top.yaml", "sub.yaml"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning[W100]") == 1, err
    assert err.startswith("sub.yaml:7:47: warning[W100]: node 'pool': AdaptiveAvgPool2d from "
                          "(B, C, H, W) to (B, C, 2, 1) pools the free input sizes H and W")
    assert main(["check", "-q", "top.yaml"]) == 0  # the sub-spec read only through `use:`
    assert capsys.readouterr().err == err


def test_docs_page_lists_the_warnings(work):
    (work / "ok.yaml").write_text(POOL7.replace("Pool7", "Gap").replace("args: [7]", "args: [1]")
                                  .replace("7, 7]", "1, 1]"), encoding="utf-8")
    arts = {a.path.name: a.data.decode() for a in docs.artifacts(
        [work / "pool7.yaml", work / "ok.yaml"], work / "docs") if a.path.suffix == ".md"}
    page = arts["pool7.md"]
    section = page[page.index("## Warnings"):]
    assert "[the codes](errors.md#warnings)" in section
    assert ("- **W100** at `pool7.yaml:5:40`: node 'pool': AdaptiveAvgPool2d from (B, C, H, W) "
            "to (B, C, 7, 7) pools the free input sizes H and W") in section
    assert "## Warnings" not in arts["ok.md"]


def test_serve_shows_the_warnings(work):
    ws = Workspace(["."], svg=False)
    ws.rebuild()
    view = ws.views["pool7.yaml"].as_dict()
    assert view["ok"] and not view["errors"]
    [w] = view["warnings"]
    assert w["code"] == ONNX_FIXED_WINDOW and w["text"].startswith(WARNING)
    assert (w["line"], w["col"]) == (5, 40) and "AdaptiveAvgPool2d" in w["snippet"]


def test_the_library_modules_that_warn_are_the_ones_onnx_fails_for(capsys):
    """Every library module that warns is in docs/integrations.md's list of modules whose
    ONNX export does not hold (`pytest -m integrations` holds that list to onnxruntime),
    and CoordAtt's and EMA's two directional pools and BiFormer's region pools are what
    warns."""
    text = (REPO_ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(\w+)` \|", text.split("## ONNX", 1)[1], re.MULTILINE))
    from attngen.build import compile_spec
    from attngen.loader import Loader

    loader, cache, warned = Loader(), {}, {}
    for folder in ("specs", "specs/variants"):
        for path in sorted((REPO_ROOT / folder).glob("*.yaml")):
            checked = compile_spec(path, loader, cache)
            if warnings_of(checked):
                warned[checked.spec.name] = warnings_of(checked)
    assert set(warned) == {"CoordAtt", "CoordAttReLU", "EMA", "BiLevelRoutingAttention"}
    assert set(warned) <= listed
    for name, pools in (("CoordAtt", ["pool_h", "pool_w"]), ("EMA", ["pool_h", "pool_w"]),
                        ("BiLevelRoutingAttention", ["q_r", "k_r"])):
        assert [re.match(r"node '(\w+)'", w.message)[1] for w in warned[name]] == pools
    assert warned["CoordAttReLU"] == warned["CoordAtt"]  # inherited: at coordatt.yaml
