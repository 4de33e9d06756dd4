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
    # two inputs read by one step: the right one turns into the left one's lane
    ([_step("a", kind="input"), _step("b", kind="input"), _step("c", "a", "b")],
     ["○", "│ ○", "├─╯", "●"]),
])
def test_lanes_draw_every_edge_and_only_edges(graph, expected):
    assert [g for g, _ in graph_rows(graph)] == expected


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
    rows = [s for _, s in graph_rows(steps(checked)) if s is not None]
    assert [s.name for s in rows] == names  # one row per step, in order


def test_width_must_be_positive(capsys):
    assert main(["show", "se", "--width", "0"]) == 2
    assert "--width must be at least 1" in capsys.readouterr().err


def test_the_drawing_in_docs_serve_md_is_the_cli_output(capsys):
    text = (REPO_ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    command, printed = re.search(r"```text\n\$ attngen (.+?)\n(.*?)```", text, re.DOTALL).groups()
    assert main(command.split()) == 0
    assert capsys.readouterr().out == printed
