"""Spec text that reaches a reader's tools: the terminal, Graphviz, Markdown pages, the
`attngen new` skeleton, and source compiled from a `Spec` object built in Python.

Spec strings may hold any character (the generated Python keeps them inert: see
test_safety.py); everywhere they are shown they must stay text:
- the terminal: no escape sequence, bell or carriage return from a spec or a file name
  reaches stdout or stderr of any command (errors.visible shows them as `\\x1b`);
- DOT: every .dot attngen writes is accepted by the renderer;
- Markdown: no raw HTML, no broken table, link targets relative and percent-encoded;
- `attngen new`: any base title (emoji, combining marks, quotes) gives a file that loads;
- `attngen.compile(spec_object)`: a hand-made or edited `Spec` is checked as a file would
  be, so a crafted name or expression is a SpecError, never code that runs.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import pytest
from attngen import render
from attngen.errors import SpecError
from conftest import REPO_ROOT
from fuzzing import (
    assert_located_errors,
    assert_shown_not_sent,
    link_targets,
    outside_code,
    q,
    run_cli,
)

needs_svg = pytest.mark.skipif(render.backend_for("svg") is None, reason="no SVG renderer")

# Screen clear, clipboard write (OSC 52, ended by BEL), a carriage return that overprints
# the line with a fake verdict, backspace, DEL, the C1 CSI, a noncharacter and a
# right-to-left override (YAML refuses lone surrogates).
CONTROLS = ("\x1b[2J\x1b]52;c;cHduZWQ=\x07\rall checks passed\x1b[K\x08\x7f\x9b31m"
            "\ufffe\u202e")
# What may appear inside an expression's string literal (one line, no NUL, no surrogate).
LITERAL = "\x1b[2J\x07\x9b31m\u202e"

HOSTILE = """\
name: Hostile
title: TITLE
paper: PAPER
doc: DOC
params:
  channel: {default: 8, doc: PDOC}
  mode: {default: CHOICE, choices: [CHOICE, plain], doc: PDOC}
let:
  tag: LET
inputs:
  x: {shape: [B, channel], doc: IDOC}
graph:
  fc: {op: Linear, args: [channel, channel], in: x, doc: NDOC}
  gate: {op: Sigmoid, in: fc, when: WHEN, doc: NDOC}
  out: {op: ReLU, in: fc, shape: [B, channel]}
outputs: [out, {name: gate, when: WHEN}]
"""


def hostile_spec(payload: str, literal: str, **extra) -> str:
    """HOSTILE with `payload` in every free-text field and the choices, `literal` inside
    the expressions' string literals."""
    fields = {"TITLE": f"T {payload}", "PAPER": f"P {payload}", "DOC": f"D {payload}",
              "PDOC": f"pd {payload}", "IDOC": f"id {payload}", "NDOC": f"nd {payload}",
              "CHOICE": f"c {payload}", "LET": f"'{literal}'",
              "WHEN": f"mode != 'plain' or tag != 'l {literal}'"}
    fields.update(extra)
    text = HOSTILE
    for key in sorted(fields, key=len, reverse=True):  # PDOC before DOC
        text = text.replace(key, q(fields[key]))
    return text


# -- item 13: the terminal -------------------------------------------------------------------
@pytest.fixture
def hostile_files(tmp_path):
    """A hostile spec in a file whose name holds escapes; a second one to diff against."""
    folder = tmp_path / "f\x1b[2J\x07"
    folder.mkdir()
    spec = folder / "h\x1b]52;c;eA==\x07\x1b[2J\r.yaml"
    spec.write_text(hostile_spec(CONTROLS, LITERAL), encoding="utf-8")
    other = folder / "o\x1b[31m.yaml"
    other.write_text(hostile_spec("\x1b[32mother\x07", "\x1b[33m", TITLE="x\x1b[2J"),
                     encoding="utf-8")
    return spec, other


def test_no_command_sends_spec_escapes_to_the_terminal(tmp_path, hostile_files, monkeypatch,
                                                      capsys):
    spec, other = hostile_files
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "o\x1b[2J"
    runs = {
        "check": ["check", spec, other],
        "show": ["show", spec],
        "params": ["params", spec, "--all"],
        "params --set": ["params", spec, "--set", "mode='plain'"],
        "diff": ["diff", spec, other],
        "build": ["build", "--no-svg", spec, "-o", out],
        "build --check": ["build", "--no-svg", "--check", spec, other, "-o", out],
        "diagram -o": ["diagram", spec, "-o", out / "d\x1b[2J.dot"],
        "new": ["new", "v\x1b[2J\r", "--from", spec, "-o", out],
        "verify": ["verify", "-n", "2", "--no-export", spec],
    }
    if render.backend_for("svg") is not None:
        runs["docs"] = ["docs", spec, other, "-o", tmp_path / "docs\x1b[2J"]
        runs["docs --check"] = ["docs", "--check", spec, other, "-o", tmp_path / "docs\x1b[2J"]
    shown = ""
    for what, argv in runs.items():
        res = run_cli(argv)
        assert res.code in (0, 1), (what, res.code, res.err)
        assert "Traceback" not in res.err, (what, res.err)
        assert_shown_not_sent(res.out + res.err, what)
        shown += res.out + res.err
    assert "\\x1b[2J" in shown and "\\x07" in shown and "\\r" in shown  # shown, not dropped
    from attngen.cli import main

    assert main(["diagram", str(spec), "--format", "dot"]) == 0  # DOT to stdout, as bytes
    assert_shown_not_sent(capsys.readouterr().out, "diagram dot to stdout")


@pytest.mark.parametrize("bad", [
    "  y: {op: ReLU, in: \"x\\u001b[2J\\u0007\"}",  # an unknown node name in a message
    "  y: {op: \"Re\\u001b]52;c;eA==\\u0007LU\", in: x}",  # an unknown op
    "  y: {use: \"sub\\u001b[2J\\r\", in: x}",  # a sub-spec not found
    "  \"y\\u001b[2J\": {op: ReLU, in: x}",  # a node name that is no identifier
    "  y: {op: ReLU, in: x, when: \"mode == \\u001b[2J\"}",  # an expression that is no expression
])
def test_error_messages_show_spec_escapes(tmp_path, bad):
    spec = tmp_path / "e\x1b[2J\r.yaml"
    spec.write_text("name: Bad\ntitle: \"\\u001b[2J\"\nparams: {mode: 1}\ninputs:\n  x: [B, C]\n"
                    f"graph:\n{bad}\noutputs: y\n", encoding="utf-8")
    for command in ("check", "show", "params", "build", "diagram"):
        res = run_cli([command, spec] + (["-o", tmp_path / "o"] if command == "build" else []))
        assert_located_errors(res, located=False)
        assert_shown_not_sent(res.out + res.err, command)
        assert "\\x1b" in res.err or "\\u001b" in res.err, res.err


def test_a_loaded_spec_shows_its_file_name_escaped(tmp_path, hostile_files):
    import attngen

    spec, _ = hostile_files
    shown = str(spec)
    for char, escape in (("\x1b", "\\x1b"), ("\x07", "\\x07"), ("\r", "\\r")):
        shown = shown.replace(char, escape)
    assert repr(attngen.load(spec)) == f"<LoadedSpec Hostile from {shown}>"


# -- item 14: every .dot is accepted by the renderer ------------------------------------------
def test_every_dot_attngen_writes_renders(tmp_path):
    from attngen.build import compile_spec
    from attngen.diagram import dot_source, palette_dot
    from attngen.loader import Loader

    if render.backend_for("svg") is None:
        pytest.skip("no SVG renderer")
    everything = "".join(map(chr, range(32))) + "\x7f\x85\x9b\ufffe\uffff\u202e" \
        + "<&>\"' ]}{[ \\ 😀 👨‍👩‍👧 e\u0301 \u2028"
    spec = tmp_path / "spec.yaml"
    spec.write_text(hostile_spec(everything, LITERAL + "<&>\"\\\\ 😀"), encoding="utf-8")
    res = run_cli(["build", "--no-svg", spec, "-o", tmp_path / "out"])
    assert res.code == 0, res.err
    written = (tmp_path / "out" / "spec.dot").read_text(encoding="utf-8")
    svg = render.render(written, "svg").decode()  # raised RenderError before
    assert "\\x1b[2J" in svg and "\\x07" in svg and "😀" in svg
    checked = compile_spec(spec, Loader(), {})
    for options in ({}, {"collapse": True}, {"legend": True, "rankdir": "LR"}):
        render.render(dot_source(checked, **options), "svg")
    render.render(palette_dot(), "svg")
    res = run_cli(["build", spec, "-o", tmp_path / "svg"])  # the renderer's own run
    assert res.code == 0, res.err


# -- item 12: Markdown pages --------------------------------------------------------------------
MARKDOWN = ("<img src=x onerror=alert(1)> [x](javascript:alert(1)) ![i](javascript:i) "
            "| a | b | `tick` *em* _u_ ~~s~~ <https://evil.example> &lt;b&gt; \\ # h "
            "<script>alert(1)</script>")
SUB = """\
name: Inner
title: "I <img src=x onerror=alert(2)>"
inputs:
  x: [B, C]
graph:
  y: {op: Sigmoid, in: x}
outputs: y
"""


@needs_svg
def test_docs_pages_escape_every_spec_string_and_file_name(tmp_path):
    from attngen.cli import main

    root = tmp_path / "specs"
    odd = root / "we|rd <b> [x](y)"
    odd.mkdir(parents=True)
    sub = odd / "s) [e](javascript:alert(1)) <img src=y onerror=z>|q.yaml"
    sub.write_text(SUB, encoding="utf-8")
    main_spec = odd / "javascript:alert(1).yaml"
    text = hostile_spec(MARKDOWN, "<img src=x onerror=alert(3)> | [l](javascript:l)")
    text = text.replace("  out: {op: ReLU, in: fc,", f"  inner: {{use: {q(sub.name)}, in: fc}}\n"
                        "  out: {op: ReLU, in: inner,")
    main_spec.write_text(text, encoding="utf-8")
    variant = odd / "v <img src=v>|w.yaml"
    variant.write_text(f"extends: {q(main_spec.name)}\nname: Variant\n"
                       f"title: {q(MARKDOWN)}\nedits: []\n", encoding="utf-8")
    out = tmp_path / "docs"
    assert main(["docs", str(odd), "-o", str(out)]) == 0
    pages = sorted(out.rglob("*.md"))
    assert len(pages) == 5  # three specs, the index and the op library
    for page in pages:
        md = page.read_text(encoding="utf-8")
        where = page.relative_to(out)
        prose = outside_code(md)
        assert "<" not in prose, (where, [line for line in prose.splitlines() if "<" in line])
        for table in re.findall(
            r"(?:^\|.*\n)+", md, re.MULTILINE
        ):  # every row: the header's cells
            cells = {len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}
            assert len(cells) == 1, (where, table)
        targets = link_targets(md)
        assert targets, where
        for target in targets:
            assert re.fullmatch(r"[A-Za-z0-9._~%/-]+", target), (where, target)  # no scheme
            resolved = (page.parent / unquote(target)).resolve()
            if "generated" not in resolved.parts:  # the source is built by `attngen build`
                assert resolved.is_file(), (where, target)
    md = (out / "we|rd <b> [x](y)" / "javascript:alert(1).md").read_text(encoding="utf-8")
    # the `choices` default in the "drawn at" sentence (item 12's report) is text
    drawn = next(line for line in md.splitlines() if line.startswith("Shapes were checked"))
    assert "mode='c <img src=x onerror=alert(1)>" in drawn  # inside a code span: verbatim
    assert outside_code(drawn).endswith("the table shows the defaults ().")


def test_link_targets_are_relative_and_percent_encoded(tmp_path):
    from attngen import docs

    page_dir = tmp_path / "docs"
    for name, want in [("se.svg", "se.svg"), ("javascript:x.svg", "javascript%3Ax.svg"),
                       ("a b)|<c>.md", "a%20b%29%7C%3Cc%3E.md"), ("é.md", "%C3%A9.md")]:
        assert docs._link(page_dir / "img" / name, page_dir) == f"img/{want}"
    assert docs._link(tmp_path / "generated" / "x y.py", page_dir) == "../generated/x%20y.py"


# -- item 19: `attngen new` from any base ------------------------------------------------------
@pytest.mark.parametrize("title", [
    "Emoji 😀 attention", "family 👨‍👩‍👧 and flag 🇺🇳", "combining e\u0301 a\u0308\u0301",
    "ext-B 𠀀 and 𝐀𝐁", "quotes \" ' and \\ backslash # not a comment: no key",
    "tab\tand\nnewline", "U+2028\u2028 and NEL\x85 and BOM\ufeff", "ctrl \x1b[2J \x07 \x7f",
])
@pytest.mark.parametrize("file_name", ["base.yaml", "b😀 é\u2028.yaml"])
def test_new_from_a_base_with_any_title(tmp_path, title, file_name):
    from attngen.loader import Loader, load

    base = tmp_path / file_name  # the new file's `extends:` names it
    base.write_text(f"name: Base\ntitle: {q(title)}\ninputs:\n  x: [B, C]\n"
                    "graph:\n  y: {op: Sigmoid, in: x}\noutputs: y\n", encoding="utf-8")
    res = run_cli(["new", "v", "--from", base, "-o", tmp_path / "out"])
    assert res.code == 0, res.err
    # the base lies outside out/: read from it as an include folder, as the hint says
    assert f" -I {shlex.quote(str(tmp_path))} " in res.out
    made = load(tmp_path / "out" / "v.yaml", Loader(include=[tmp_path]))
    assert made.title == title + " (variant)" and made.name == "V"


def test_new_writes_one_line_comments_whatever_the_names(tmp_path):
    from attngen.loader import Loader, load

    base = tmp_path / "b\nname: Evil\n# \u2028extends: x.yaml"
    try:
        base.write_text("name: Base\ninputs:\n  x: [B, C]\ngraph:\n  y: {op: Sigmoid, in: x}\n"
                        "outputs: y\n", encoding="utf-8")
    except OSError:
        pytest.skip("the file system refuses newlines in names")
    res = run_cli(["new", "v\nname: Evil\x1b", "--from", base, "-o", tmp_path / "out"])
    assert res.code == 0, res.err
    (made,) = (tmp_path / "out").iterdir()
    assert load(made, Loader(include=[tmp_path])).name == "VNameEvil"
    text = made.read_text(encoding="utf-8")
    assert all(line.startswith(("#", "extends:", "name:", "title:", "edits:")) or not line
               for line in text.split("\n")), text


def test_new_lists_the_bases_params_as_yaml_that_reads_back(tmp_path):
    import math

    import yaml as pyyaml

    base = tmp_path / "base.yaml"
    base.write_text("name: Base\nparams:\n  need: {type: str, example: \"ex 😀\"}\n"
                    "  big: .inf\n  widths: [1.0, -.inf]\n  label: \"a 😀\\u2028\\\"q\\\"\"\n"
                    "  yes_str: 'yes'\n  flag: true\ninputs:\n  x: [B, C]\n"
                    "graph:\n  y: {op: Sigmoid, in: x}\noutputs: y\n", encoding="utf-8")
    res = run_cli(["new", "v", "--from", base, "-o", tmp_path])
    assert res.code == 0, res.err
    text = (tmp_path / "v.yaml").read_text(encoding="utf-8")
    start = text.index("# params:")
    listed = [line[1:] for line in text[start:].splitlines()[1:7]]  # uncommented
    values = pyyaml.safe_load("\n".join(listed))
    assert values["need"] == {"type": "str", "example": "ex 😀"}
    assert values["big"] == math.inf and values["widths"] == [1.0, -math.inf]
    assert values["label"] == "a 😀\u2028\"q\"" and values["yes_str"] == "yes"
    assert values["flag"] is True


# -- item 20: a Spec object is checked as a file would be --------------------------------------
CRAFTED = ["class name", "alias", "param name", "param default", "param type", "choices",
           "node name", "let name", "let expression text", "let expression tree", "op argument",
           "op name", "input name", "reference", "output", "requirement", "dtype",
           "output form", "loop variable", "split output", "seq layer name", "init option",
           "file"]


def _crafted(marker: Path) -> dict:
    """What -> an edit of se's Spec that plants code creating `marker` if it ever ran."""
    from attngen.errors import Loc
    from attngen.expr import Expr, parse
    from attngen.model import InitRule, LayerOp, Let, Output, Param, Ref, Repeat

    run = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    bad = f"q=({run}), r"  # a name that would be code in a signature
    loc = Loc("t", 1, 1)

    class Sneaky(str):  # a str whose repr (what the emitter writes for values) is code
        def __repr__(self):
            return f"({run}) or 'x'"

    class Number(float):
        def __repr__(self):
            return f"({run}) or 0.0"

    def expr(text, tree_text="1"):
        return Expr(text, parse(tree_text, loc).tree, loc)

    def rename_node(s, new):
        s.nodes = {new if k == "fc" else k: v for k, v in s.nodes.items()}
        s.nodes[new].name = new

    def add_let(s, let):
        s.lets[let.name] = let

    def named_seq(s):
        s.nodes["fc"].form = replace(s.nodes["fc"].form, named=True)
        s.nodes["fc"].form.items[0].name = f"a=({run}), b"

    return {
        "class name": lambda s: setattr(s, "name", f"X:\n    {run}\nclass Y"),
        "alias": lambda s: s.aliases.append(f"Z = ({run})\nW"),
        "param name": lambda s: s.params.update({bad: Param(bad, loc, "int", 1)}),
        "param default": lambda s: setattr(s.params["channel"], "default", Sneaky("x")),
        "param type": lambda s: setattr(s.params["channel"], "type", f'int"""\n{run}\n"""'),
        "choices": lambda s: setattr(s.params["reduction"], "choices", (16, Number(2.0))),
        "node name": lambda s: rename_node(s, f"fc = ({run})\n        self.fc"),
        "let name": lambda s: add_let(s, Let(f"k = ({run}); self.k", loc, parse("1", loc))),
        "let expression text": lambda s: add_let(s, Let("k", loc, expr(run))),
        "let expression tree": lambda s: add_let(s, Let("k", loc, Expr(
            "1", ast.parse(run, mode="eval").body, loc))),
        "op argument": lambda s: s.nodes["avg_pool"].form.args.update(
            {"output_size": expr(run)}),
        "op name": lambda s: setattr(s.nodes["avg_pool"], "form", LayerOp(
            f"Identity({run}) or nn.Identity", s.nodes["avg_pool"].form.args)),
        "input name": lambda s: (setattr(s.inputs["x"], "name", bad),
                                 setattr(s, "inputs", {bad: s.inputs["x"]})),
        "reference": lambda s: setattr(s.nodes["out"], "inputs",
                                       [Ref(f"x * ({run})", loc), Ref("weight", loc)]),
        "output": lambda s: setattr(s, "outputs", [Output(f"out if ({run}) else out", loc)]),
        "requirement": lambda s: s.requires.append(expr(f"({run}) or True", "True")),
        "dtype": lambda s: setattr(s.inputs["x"], "dtype", f"float = ({run})"),
        "output form": lambda s: setattr(s, "output_form", f"value; {run}"),
        "loop variable": lambda s: setattr(s.nodes["fc"], "form", Repeat(
            f"i in ({run}), j", parse("[1, 2]", loc), s.nodes["fc"].form)),
        "split output": lambda s: setattr(s.nodes["squeeze"], "out", [f"a = ({run})", "b"]),
        "seq layer name": named_seq,
        "init option": lambda s: s.init.append(
            InitRule("Linear", loc, weight="normal", options={"std": Number(0.1)})),
        "file": lambda s: setattr(s, "file", Sneaky("se.yaml")),
    }


@pytest.mark.parametrize("what", CRAFTED)
def test_compile_rechecks_a_crafted_spec_object(tmp_path, what):
    import attngen
    from attngen.loader import load
    from attngen.results import Checked

    marker = tmp_path / "ran"
    crafted = _crafted(marker)
    assert set(crafted) == set(CRAFTED)
    spec = load(REPO_ROOT / "specs" / "se.yaml")
    crafted[what](spec)
    attempts = {
        "compile": lambda: attngen.compile(spec),
        "source": lambda: attngen.LoadedSpec(Checked(spec, list(spec.nodes), [{}])).source(),
    }
    for how, attempt in attempts.items():
        with pytest.raises(SpecError):
            attempt()
        assert not marker.exists(), f"{what} ({how}): spec text ran as code"


def test_compile_rechecks_an_edited_loaded_spec(tmp_path):
    import attngen

    marker = tmp_path / "ran"
    se = attngen.load("se")
    se.spec.name = f"X:\n    __import__('pathlib').Path({str(marker)!r}).touch()\nclass Y"
    with pytest.raises(SpecError, match="E104"):
        se.compile()
    with pytest.raises(SpecError, match="E104"):
        se.source()
    assert not marker.exists()


def test_a_spec_object_the_loader_built_still_compiles():
    import attngen
    from attngen.loader import Loader
    from attngen.recheck import recheck

    loader = Loader()
    for path in sorted((REPO_ROOT / "specs").rglob("*.yaml")):
        recheck(loader.load(path))  # nothing the loader accepts is refused
    se = loader.load(REPO_ROOT / "specs" / "se.yaml")
    se.params["channel"].default = 64  # an edit the loader would accept
    model = attngen.compile(se)()
    assert model.fc[0].in_features == 64
