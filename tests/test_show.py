"""`attngen show`: the lanes drawing (lanes.py) against expected text, its edges, its width."""

import re
from pathlib import Path

import pytest
from attngen.build import collect_specs, compile_spec
from attngen.cli import main
from attngen.lanes import Step, graph_rows, steps
from attngen.loader import Loader
from conftest import REPO_ROOT

CASES = Path(__file__).parent / "show_cases"


@pytest.mark.parametrize(("case", "argv"), [
    ("se", ["se", "--width", "100"]),  # a line with one fork
    ("cbam", ["cbam", "--width", "100"]),  # two sub-modules drawn out, each two branches
    ("sk", ["sk", "--width", "100"]),  # fan-out over a list, a value read twice
    ("mtgnn", ["mtgnn", "--width", "100"]),  # two lanes meeting at the product
    ("mtgnn_collapsed", ["mtgnn", "--width", "80", "--collapse"]),
    ("mtgnn_narrow", ["mtgnn", "--width", "48"]),  # the list, each step's reads named
])
def test_drawing_matches_expected_text(case, argv, capsys):
    assert main(["show", *argv]) == 0
    assert capsys.readouterr().out == (CASES / f"{case}.txt").read_text(encoding="utf-8")


def _step(ident, *reads, kind="node"):
    return Step(ident, ident, "op", "(B,)", 0, tuple(reads), kind)


@pytest.mark.parametrize(("graph", "expected"), [
    # a diamond: a forks, b and c join into d
    ([_step("a", kind="input"), _step("b", "a"), _step("c", "a"), _step("d", "b", "c")],
     ["○", "├─╮", "│ ●", "● │", "├─╯", "●"]),
    # a value read by three steps, then all three joined
    ([_step("a", kind="input"), _step("b", "a"), _step("c", "a"), _step("d", "a"),
      _step("e", "b", "c", "d")],
     ["○", "├─╮", "│ ●", "├─│─╮", "│ │ ●", "● │ │", "├─┴─╯", "●"]),
    # b's value is read by nothing: the next lane starts beside it, not below it
    ([_step("a", kind="input"), _step("b", "a"), _step("c", kind="input"), _step("d", "c")],
     ["○", "●", "  ○", "  ●"]),
    # two inputs read by one step: the right one turns into the left one's lane
    ([_step("a", kind="input"), _step("b", kind="input"), _step("c", "a", "b")],
     ["○", "│ ○", "├─╯", "●"]),
])
def test_lanes_draw_every_edge_and_only_edges(graph, expected):
    rows = graph_rows(graph)
    assert [g for g, _ in rows] == expected
    assert traced_edges(rows) == {(r, s.ident) for s in graph for r in s.reads}


UP = set("│├┤┼┴╰╯")  # glyphs with a line going up
DOWN = set("│├┤┼┬╭╮")  # and down
MARKS = set("○●◎")


def traced_edges(rows: list[tuple[str, Step | None]]) -> set[tuple[str, str]]:
    """The edges a reader sees in the drawing: a step reads the lane it sits on when the
    cell above runs down into it, and every lane a row of joins above it brings in along an
    unbroken horizontal line. Fails on a line that leads nowhere."""
    lanes: dict[int, str] = {}  # column -> the step whose value the lane carries
    edges = set()
    cell = lambda text, c: text[2 * c] if 2 * c < len(text) else " "  # noqa: E731
    for i, (text, step) in enumerate(rows):
        above = rows[i - 1][0] if i else ""
        if step is not None:
            col = next(c for c in range(len(text)) if cell(text, c) in MARKS)
            if i and rows[i - 1][1] is not None and cell(above, col) in DOWN | MARKS:
                edges.add((lanes[col], step.ident))  # straight down from the lane above
            for c in range(len(text) // 2 + 1):
                if c != col:
                    assert cell(text, c) in "│ ", text
                    assert (cell(text, c) == "│") == (c in lanes), (text, c)
            below = rows[i + 1][0] if i + 1 < len(rows) else ""
            if cell(below, col) in UP | MARKS:  # the value goes on down
                lanes[col] = step.ident
            else:
                lanes.pop(col, None)
            continue
        reader = rows[i + 1][1]
        col = next(c for c in range(len(rows[i + 1][0])) if cell(rows[i + 1][0], c) in MARKS)
        for c in range(len(text) // 2 + 1):
            glyph = cell(text, c)
            if glyph in UP and glyph != "│" or (c == col and glyph in UP):
                lo, hi = sorted((c, col))
                span = text[2 * lo:2 * hi + 1]
                assert all(ch != " " for ch in span), f"broken line: {text!r}"
                edges.add((lanes[c], reader.ident))
                if glyph not in DOWN:
                    del lanes[c]
            elif glyph == "│":
                assert c in lanes, text  # a lane passing by (or crossed)
    return edges


LIBRARY = sorted((REPO_ROOT / "specs").glob("*.yaml")) + \
    sorted((REPO_ROOT / "specs" / "variants").glob("*.yaml"))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_every_step_drawn_once_within_every_width(path, capsys):
    checked = compile_spec(collect_specs([str(path)])[0], Loader(), {})
    names = [s.name for s in steps(checked)]
    for width in (200, 100, 80, 60, 40, 12):
        assert main(["show", str(path), "--width", str(width)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert all(len(line) <= width for line in lines), width
        marks = [line for line in lines if line[:1] in "○●◎│├" and any(m in line for m in "○●◎")]
        assert len(marks) >= len(names) or width < 20  # cut titles may hide names, never rows
    rows = graph_rows(steps(checked))
    assert [s.name for _, s in rows if s is not None] == names  # one row per step, in order
    for collapse in (False, True):
        all_steps = steps(checked, collapse)
        wanted = {(r, s.ident) for s in all_steps for r in s.reads}
        assert traced_edges(graph_rows(all_steps)) == wanted  # every line an edge, and no other


def test_width_must_be_positive(capsys):
    assert main(["show", "se", "--width", "0"]) == 2
    assert "--width must be at least 1" in capsys.readouterr().err


def test_the_drawing_in_docs_serve_md_is_the_cli_output(capsys):
    text = (REPO_ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    command, printed = re.search(r"```text\n\$ attngen (.+?)\n(.*?)```", text, re.DOTALL).groups()
    assert main(command.split()) == 0
    assert capsys.readouterr().out == printed


def test_a_cases_node_reads_what_every_case_reads():
    drawn = {s.ident: s for s in steps(compile_spec(CASES / "pick_cases.yaml", Loader(), {}))}
    assert drawn["picked"].reads == ("in:x", "in:y")  # y: the inactive case's input
    assert drawn["picked"].label == "identity()  [y if not first]"


def test_a_sub_module_is_drawn_with_the_parameters_its_call_gives(tmp_path, capsys):
    """A `use:` node's layers count the parameters of the call's arguments, not the
    sub-spec's own defaults (Conv2d(8, 16, 1) has 128 weights, not Inner's 64 x 64): in
    `show`, the diagram and the docs page alike."""
    (tmp_path / "inner.yaml").write_text(
        "name: Inner\nparams:\n  ci: {type: int, example: 64}\n  co: {type: int, example: 64}\n"
        "inputs:\n  x: [B, ci, H, W]\ngraph:\n  conv: {op: Conv2d, args: [ci, co, 1], "
        "bias: false, in: x}\noutputs: conv\n")
    outer = tmp_path / "outer.yaml"
    outer.write_text("name: Outer\nparams:\n  c: {default: 8}\ninputs:\n  x: [B, c, H, W]\n"
                     "graph:\n  cv: {use: inner, args: [c, 2 * c], in: x}\noutputs: cv\n")
    assert main(["show", str(outer)]) == 0
    out = capsys.readouterr().out
    assert "(128 params)" in out and "4,096" not in out
    assert main(["diagram", str(outer), "--format", "dot", "-o", str(tmp_path / "o.dot")]) == 0
    assert ">128 params<" in (tmp_path / "o.dot").read_text()
    assert main(["docs", str(outer), "-o", str(tmp_path / "docs")]) == 0
    assert "4,096" not in (tmp_path / "docs" / "outer.md").read_text()
