"""`attngen diagram` (every option) and `attngen docs` (pages, index, --check, escaping)."""

import os
import re
import sys

import pytest
from attngen import docs, ops, render
from attngen.cli import main
from attngen.counts import total
from attngen.loader import Loader, load
from conftest import REPO_ROOT

CBAM = str(REPO_ROOT / "specs/cbam.yaml")
SE = str(REPO_ROOT / "specs/se.yaml")


def _docs_paths():
    return ["specs"] + (["specs/variants"] if (REPO_ROOT / "specs/variants").is_dir() else [])


def _dot(tmp_path, *options, spec=CBAM):
    out = tmp_path / "d.dot"
    assert main(["diagram", spec, "-o", str(out), *options]) == 0
    return out.read_text()


def _needs(fmt):
    return pytest.mark.skipif(render.backend_for(fmt) is None, reason=f"no renderer for {fmt}")


# -- diagram: DOT content per option -----------------------------------------------------------
def test_default_diagram_has_clusters_shapes_and_colours(tmp_path):
    dot = _dot(tmp_path)
    assert "rankdir=TB" in dot
    assert 'subgraph "cluster_ca"' in dot and 'subgraph "cluster_sa"' in dot
    assert "<b>ca</b>: ChannelAttention" in dot  # clusters are labelled
    assert 'label=" (B, in_planes, 1, 1) "' in dot  # shapes on edges
    assert "edge [fontname=\"Helvetica\", fontsize=9" in dot  # smaller than the boxes' 11
    assert 'fillcolor="#dbe9f6"' in dot and 'fillcolor="#dff0e0"' in dot  # conv, pool
    assert '"legend"' not in dot


def test_edges_are_drawn_outside_clusters(tmp_path):
    """An edge inside a cluster would pull its outer endpoint (the input x) into it."""
    depth = 0
    for line in _dot(tmp_path).splitlines():
        if line.lstrip().startswith("subgraph"):
            depth += 1
        elif line.strip() == "}" and depth:
            depth -= 1
        elif "->" in line:
            assert depth == 0, line
        elif line.lstrip().startswith('"in:x"'):
            assert depth == 0


def test_edges_into_a_cluster_carry_the_callers_shape(tmp_path):
    # SpatialAttention names its input [B, C, H, W]; inside CBAM that tensor is in_planes wide
    edge = next(line for line in _dot(tmp_path).splitlines()
                if line.strip().startswith('"out" -> "sa.avg_out"'))
    assert "(B, in_planes, H, W)" in edge


def test_rankdir_lr(tmp_path):
    dot = _dot(tmp_path, "--rankdir", "LR")
    assert "rankdir=LR" in dot and "rankdir=TB" not in dot


def test_collapse_draws_sub_modules_as_boxes(tmp_path):
    dot = _dot(tmp_path, "--collapse")
    assert "cluster_" not in dot
    assert re.search(r'^  "ca" \[label=<<b>ca</b>.*ChannelAttention\(in_planes=in_planes,', dot,
                     re.MULTILINE)
    assert "512 params" in dot and 'fillcolor="#fff4c2"' in dot  # the sub-module colour
    assert '"ca.fc1"' not in dot


def test_legend_lists_the_kinds_drawn(tmp_path):
    dot = _dot(tmp_path, "--legend", spec=SE)
    assert '"legend"' in dot and "conv / linear" in dot and "activation / gate" in dot
    assert "normalisation" not in dot  # SE has no norm layer: not in its key


def test_seq_node_is_one_box_with_a_row_per_step(tmp_path):
    dot = _dot(tmp_path, spec=SE)
    line = next(s for s in dot.splitlines() if s.strip().startswith('"fc" ['))
    assert line.count("<tr>") == 1 + 4 + 1  # title, four steps, params
    assert "Linear(channel, channel // reduction)" in line and "32,768 params" in line


def test_diagrams_write_our_arrow_in_ascii(tmp_path, capsys):
    # graphviz-pure sizes a box from ASCII glyph widths only: "→" would count as a space
    dot = _dot(tmp_path, spec=str(REPO_ROOT / "specs/coordatt.yaml"))
    assert "split -&gt; y_h, y_w" in dot and "→" not in dot
    assert main(["show", str(REPO_ROOT / "specs/coordatt.yaml")]) == 0
    assert "split → y_h, y_w" in capsys.readouterr().out  # the terminal keeps the arrow


def test_dot_to_stdout_and_format_from_suffix(tmp_path, capsys):
    assert main(["diagram", SE, "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "SEAttention" {')
    assert _dot(tmp_path, spec=SE).startswith("digraph")  # -o d.dot: DOT without --format


def test_long_argument_lists_wrap():
    from attngen.diagram import _wrap

    lines = _wrap("Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, "
                  "groups, bias, padding_mode, device, dtype, a, b, c, d, e, f, g, h)")
    assert len(lines) <= 4 and lines[-1].strip() == "..."
    assert all(len(line) <= 48 for line in lines)


# -- diagram: argument errors and renderers ------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["--rankdir", "XY"],
    ["--format", "jpg"],
    ["--format", "svg", "-o", "x.png"],  # format and suffix disagree
    ["-o", "x.png.jpg"],  # a suffix that names no output format
])
def test_bad_arguments_exit_2(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:  # argparse's own usage errors
        code = main(["diagram", SE, *argv])
        raise SystemExit(code)
    assert exc.value.code == 2
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.png.jpg").exists()
    assert "error" in capsys.readouterr().err


def test_an_unknown_suffix_with_format_given_is_written_in_that_format(tmp_path):
    out = tmp_path / "se.diagram"
    assert main(["diagram", SE, "--format", "dot", "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph")


def test_output_into_a_folder_exits_2(tmp_path, capsys):
    assert main(["diagram", SE, "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_unknown_spec_exits_1(tmp_path, capsys):
    assert main(["diagram", str(tmp_path / "nope.yaml")]) == 1
    assert "error[E500]" in capsys.readouterr().err


def test_missing_renderer_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(render, "available_backends", list)
    assert main(["diagram", SE, "-o", str(tmp_path / "se.svg")]) == 1
    assert "no renderer for svg" in capsys.readouterr().err
    assert not (tmp_path / "se.svg").exists()


def test_pdf_without_system_dot_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(render, "available_backends", lambda: ["graphviz-pure"])
    assert main(["diagram", SE, "-o", str(tmp_path / "se.pdf")]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err


@_needs("svg")
def test_svg_is_deterministic(tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    assert main(["diagram", CBAM, "-o", str(a)]) == 0
    assert main(["diagram", CBAM, "-o", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes() and a.read_text().lstrip().startswith("<?xml")


@_needs("png")
def test_png(tmp_path):
    out = tmp_path / "cbam.png"
    assert main(["diagram", CBAM, "-o", str(out), "--rankdir", "LR", "--collapse"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


FAKE_DOT = """\
import sys
assert sys.argv[1:] == ["-Tpdf"], sys.argv
sys.stdout.buffer.write(b"%PDF-1.7 written by a stand-in for dot\\n" + sys.stdin.buffer.read())
"""


def test_pdf_goes_through_system_dot(tmp_path, monkeypatch):
    """PDF is the one format only system Graphviz writes: the diagram's DOT goes to
    `dot -Tpdf` on stdin and its output lands in the file. A stand-in `dot` on PATH checks
    that hand-off (Graphviz's own PDF writer is Graphviz's to test)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text(f"#!{sys.executable}\n{FAKE_DOT}")
    dot.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert render.backend_for("pdf") == "dot"
    out = tmp_path / "cbam.pdf"
    assert main(["diagram", CBAM, "--format", "pdf", "-o", str(out)]) == 0
    written = out.read_bytes()
    assert written.startswith(b"%PDF-1.7 written by a stand-in for dot\n"), written[:80]
    assert written.endswith(_dot(tmp_path).encode()), written[-200:]


# -- docs ------------------------------------------------------------------------------------
needs_svg = _needs("svg")


@needs_svg
def test_checked_in_docs_are_fresh(monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)
    assert main(["docs", "--check", *_docs_paths(), "-o", "docs"]) == 0, capsys.readouterr()


@needs_svg
def test_page_content(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "docs"
    assert main(["docs", "specs", "-o", str(out)]) == 0
    page = (out / "cbam.md").read_text()
    spec = load(REPO_ROOT / "specs/cbam.yaml", Loader())
    assert page.startswith("# CBAM — Convolutional Block Attention Module\n")
    assert "**Paper:** CBAM: Convolutional Block Attention Module (ECCV 2018)" in page
    assert "| `ratio` | `16` |" in page and "| `in_planes` | required (checked with `64`)" in page
    assert "![CBAM dataflow diagram](img/cbam.svg)" in page
    assert (out / "img/cbam.svg").read_text().lstrip().startswith("<?xml")
    for node in spec.nodes:
        assert f"| `{node}` |" in page
    assert "| `sa` | [SpatialAttention](spatial_attention.md)" in page
    assert "| `(B, 1, H, W)` | 98 |" in page
    assert f"**{total(spec):,}**" in page
    links = dict(re.findall(r"\[`([^`]+)`\]\(([^)]+)\)", page))
    assert (out / links["cbam.py"]).resolve() == REPO_ROOT / "generated/cbam.py"
    assert (out / links["cbam.yaml"]).resolve() == REPO_ROOT / "specs/cbam.yaml"
    index = (out / "README.md").read_text()
    for yaml in (REPO_ROOT / "specs").glob("*.yaml"):
        assert f"]({yaml.stem}.md)" in index and (out / f"{yaml.stem}.md").is_file()
    assert (out / "img/palette.svg").is_file()


@needs_svg
def test_docs_check_lists_stale_files_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "docs"
    assert main(["docs", SE, "-o", str(out)]) == 0
    (out / "se.md").write_text("edited\n")
    (out / "img/se.svg").unlink()
    before = sorted((p, p.read_bytes()) for p in out.rglob("*") if p.is_file())
    capsys.readouterr()
    assert main(["docs", "--check", SE, "-o", str(out)]) == 1
    stdout, err = capsys.readouterr()
    assert f"stale: {out / 'se.md'}" in stdout and f"stale: {out / 'img/se.svg'}" in stdout
    assert "out of date" in err
    assert sorted((p, p.read_bytes()) for p in out.rglob("*") if p.is_file()) == before
    assert main(["docs", SE, "-o", str(out)]) == 0
    assert main(["docs", "--check", SE, "-o", str(out)]) == 0


EVIL = """\
name: Evil
title: "pipe | and <script>alert(1)</script>"
paper: "[click](javascript:alert(1)) <img src=x onerror=alert(1)>"
doc: |
  # not a heading
  *stars* and `ticks` | pipes & <b>tags</b>
params:
  width: {default: 4, doc: "a | b <i>x</i>"}
inputs:
  x: {shape: [B, width], doc: "<script>no</script>"}
graph:
  y: {op: Sigmoid, in: x, doc: "| col | injection |"}
outputs: y
"""


@needs_svg
def test_spec_strings_cannot_break_or_inject_into_pages(tmp_path):
    spec = tmp_path / "specs" / "evil.yaml"
    spec.parent.mkdir()
    spec.write_text(EVIL)
    out = tmp_path / "docs"
    assert main(["docs", str(spec), "-o", str(out)]) == 0
    for page in (out / "evil.md", out / "README.md"):
        md = page.read_text()
        assert "<script" not in md and "<b>" not in md and "<i>" not in md and "<img" not in md
        assert not re.search(r"(?<!\\)\]\(javascript", md)
        assert "\n# not a heading" not in md
        for table in re.findall(
            r"(?:^\|.*\n)+", md, re.MULTILINE
        ):  # every row: the header's cells
            assert len({len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}) == 1
    md = (out / "evil.md").read_text()
    assert "pipe \\| and &lt;script&gt;" in md
    assert "| `width` | `4` | a \\| b &lt;i&gt;x&lt;/i&gt; |" in md


def test_ops_page_shows_every_op_and_how_to_add_one(tmp_path):
    page = docs.ops_markdown()
    groups = re.split(r"^## Group ", page, flags=re.MULTILINE)[1:]
    for name, op in ops.REGISTRY.items():
        group = next(g for g in groups if g.startswith(f"{op.group}\n"))
        section = group.split(f"### {docs.text(name)}\n")[1].split("\n### ")[0]
        assert f"dtype {docs.code(op.dtype.text)}" in section and docs.code(op.rule) in section
        assert docs.text(op.summary[1:]) in section, name
        for a in op.args:
            default = "required" if a.required else docs.code(repr(a.default))
            assert f"| `{a.name}` | `{a.type}`" in section and f" | {default} | " in section
    assert "## Adding an op" in page and docs.OP_EXAMPLE in page
    assert "register(Op(" in docs.OP_EXAMPLE and "add_group(Group(" in docs.OP_EXAMPLE
    for t in ops.ARG_TYPES.values():
        assert f"| `{t.name}` | {docs.text(t.text)} |" in page
    out = tmp_path / "docs"
    assert main(["docs", SE, "-o", str(out)]) == 0  # written with any spec, linked from the index
    assert (out / "ops.md").read_text() == page
    assert "[the op library](ops.md)" in (out / "README.md").read_text()


def test_escaping_helpers():
    assert docs.code("a | b") == "`a \\| b`"
    assert docs.code("x`y") == "`` x`y ``"
    assert docs.text("<script>") == "&lt;script&gt;"
    assert docs.text("# h") == "\\# h" and docs.text("1. item") == "1\\. item"
    assert docs.text("a\n\nb_c*d") == "a b\\_c\\*d"


def test_generated_path_mirrors_specs_folders():
    assert docs.generated_path(REPO_ROOT / "specs/se.yaml") == REPO_ROOT / "generated/se.py"
    assert docs.generated_path(REPO_ROOT / "specs/variants/x.yaml") == \
        REPO_ROOT / "generated/variants/x.py"


@pytest.mark.parametrize("page", sorted((REPO_ROOT / "docs").rglob("*.md")),
                         ids=lambda p: p.relative_to(REPO_ROOT / "docs").as_posix())
def test_params_column_adds_up_to_the_total(page):
    """A layer declared once and called from an `apply:` node is counted where it is called."""
    text = page.read_text(encoding="utf-8")
    if "## Nodes and shapes" not in text:
        return  # the index
    table = text.split("## Nodes and shapes")[1].split("\n\n")[1]
    cells = [line.strip()[1:-1].split(" | ")[3].strip().replace(",", "")
             for line in table.splitlines()[2:]]
    column = sum(int(c) for c in cells if c.isdigit())
    total = int(re.search(r"Parameter count at the defaults: \*\*([\d,]+)\*\*", text)[1]
                .replace(",", ""))
    assert column == total, page.name


def test_a_sub_spec_read_from_a_copy_links_to_the_page_of_its_original(tmp_path):
    """A non-editable install reads `extends: cbam` from the installed library's copy of the
    checkout's cbam.yaml: its sub-specs are copies too, and still link to their pages."""
    specs = tmp_path / "specs"
    (specs / "copy").mkdir(parents=True)
    sub = (REPO_ROOT / "specs" / "channel_attention.yaml").read_text()
    (specs / "channel_attention.yaml").write_text(sub)
    (specs / "copy" / "channel_attention.yaml").write_text(sub)
    (specs / "top.yaml").write_text(
        "name: Top\ninputs:\n  x: [B, 64, H, W]\ngraph:\n"
        "  ca: {use: copy/channel_attention.yaml, args: [64, 16], in: x}\n"
        "  out: {op: mul, in: [x, ca]}\noutputs: out\n")
    out = tmp_path / "docs"
    assert main(["docs", str(specs / "top.yaml"), str(specs / "channel_attention.yaml"),
                 "-o", str(out)]) == 0
    page = (out / "top.md").read_text()
    assert "[ChannelAttention](channel_attention.md)" in page, page


def test_the_index_lists_the_specs_of_one_paper_together_the_user_first():
    index = (REPO_ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ((?:&emsp;)*(?:↳ )?)\*\*([\w\\]+)\*\*", index, re.MULTILINE)
    order = [(name.replace("\\", ""), indent.count("&emsp;") + ("↳" in indent)) for indent, name
             in rows]
    at = {name: i for i, (name, _) in reversed(list(enumerate(order)))}  # first occurrence
    # CBAM's parts follow it one level down; Triplet's gate, then the gate's ZPool deeper
    assert order[at["CBAM"] + 1: at["CBAM"] + 3] == [("ChannelAttention", 1),
                                                     ("SpatialAttention", 1)]
    assert order[at["TripletAttention"] + 1: at["TripletAttention"] + 3] == [
        ("AttentionGate", 1), ("ZPool", 2)]
    assert order[at["TemporalConv"] + 1] == ("DilatedInception", 1)
    # a spec used by another paper's module stays a head of its own
    assert dict(order)["ScaledDotProductAttention"] == 0 and dict(order)["h_swish"] == 0
    assert len(order) == len(list((REPO_ROOT / "specs").glob("**/*.yaml")))  # each listed once


PICK = (REPO_ROOT / "tests/show_cases/pick_cases.yaml").read_text()


def test_cases_draw_every_cases_input_the_inactive_ones_dashed(tmp_path):
    spec = tmp_path / "pick.yaml"
    spec.write_text(PICK)
    edges = [line.strip() for line in _dot(tmp_path, spec=str(spec)).splitlines()
             if "->" in line]
    assert '"in:x" -> "picked" [label=" (B, C) "];' in edges  # the case drawn
    assert '"in:y" -> "picked" [label=" (B, C) if not first ", style=dashed];' in edges
    spec.write_text(PICK.replace("default: true", "default: false"))  # the other way round
    edges = [line.strip() for line in _dot(tmp_path, spec=str(spec)).splitlines()
             if "->" in line]
    assert '"in:x" -> "picked" [label=" (B, C) if first ", style=dashed];' in edges
    assert '"in:y" -> "picked" [label=" (B, C) "];' in edges
    asff = _dot(tmp_path, spec=str(REPO_ROOT / "specs/asff.yaml"))  # drawn at level=0
    assert '"in:x_level_2" -> "level_2_resized" [label=" (B, 256, 4*H, 4*W) if level == 1 or ' \
        'level == 2 ", style=dashed];' in asff


def test_a_layer_off_at_the_defaults_is_counted_apart_at_its_own_values():
    """MBConv's expansion exists where expand_ratio != 1 (drawn with that condition, counted
    at expand_ratio 2 with its lets: oup = 32), outside the total at the defaults."""
    text = (REPO_ROOT / "docs" / "mbconv.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `_expand_conv` |"))
    assert "if `expand_ratio != 1`" in row and "| (512 if on) |" in row, row
