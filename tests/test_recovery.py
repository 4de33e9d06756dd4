"""Issue 13: the shape checker reports every independent error of a spec in one run, as a
compiler does (recovery.py): a node that fails is reported, the nodes that depend on it are
skipped (no follow-on errors), and the nodes that do not are still checked. The CLI prints
them in file:line:col order, at most MAX_SHOWN, and a count line naming the file."""

from __future__ import annotations

import re

import pytest
from attngen.cli import main
from attngen.errors import MAX_SHOWN
from attngen.live import Workspace

# a: wrong permutation (E403); b reads a and binds K; e reads b; f names K: all three skipped.
# c and d are wrong on their own (E400) and independent of a: reported.
SPEC = """\
name: Three
inputs:
  x: [B, C, H, W]
graph:
  a: {op: permute, in: x, dims: [0, 2, 1]}
  b: {op: sigmoid, in: a, shape: [B, K, H, W]}
  c: {op: flatten, in: x, start_dim: 1, shape: [B, C]}
  d: {op: mul, in: [x, x], shape: [B, C, H]}
  e: {op: mul, in: [b, x], shape: [B, C, H]}
  f: {op: view, in: x, to: [B, K, -1]}
  out: {op: add, in: [e, c, d, f]}
outputs: out
"""
DIAG = re.compile(r"^(\S+):(\d+):(\d+): error\[(E\d+)\]: node '(\w+)'")


def _errors(err: str) -> list[tuple[int, int, str, str]]:
    """(line, col, code, node) of each diagnostic printed."""
    return [(int(m[2]), int(m[3]), m[4], m[5]) for m in map(DIAG.match, err.splitlines()) if m]


def test_independent_errors_are_all_reported_and_dependents_skipped(tmp_path, capsys):
    path = tmp_path / "three.yaml"
    path.write_text(SPEC)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert _errors(err) == [(5, 3, "E403", "a"), (7, 52, "E400", "c"), (8, 28, "E400", "d")]
    assert err.splitlines()[-1] == f"attngen: 3 errors in {path}"
    # each with its own notes: the rule of its op
    assert "note: rule: permute" in err and "note: rule: flatten" in err
    assert "note: rule: mul" in err and "'K'" not in err and "node 'e'" not in err


def test_a_spec_with_one_error_still_reports_one(tmp_path, capsys):
    path = tmp_path / "one.yaml"
    path.write_text(SPEC.replace("dims: [0, 2, 1]", "dims: [0, 1, 2, 3]")
                    .replace("shape: [B, C]}", "shape: [B, C * H * W]}")
                    .replace("shape: [B, C, H]}\n  e", "shape: [B, C, H, W]}\n  e"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    # b binds K = C; e's annotation is wrong; out reads e: skipped
    assert _errors(err) == [(9, 28, "E400", "e")]
    assert err.splitlines()[-1] == f"attngen: 1 error in {path}"


def test_a_node_without_errors_of_its_own_is_not_skipped_for_a_failed_sibling(tmp_path, capsys):
    """Skipping follows reads and dims only: d reads x like the failed a, and is checked."""
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.replace("shape: [B, C]}", "shape: [B, C * H * W]}"))
    assert main(["check", str(path)]) == 1
    assert [e[3] for e in _errors(capsys.readouterr().err)] == ["a", "d"]


def test_build_writes_nothing_and_exits_1(tmp_path, capsys):
    path = tmp_path / "three.yaml"
    path.write_text(SPEC)
    out = tmp_path / "out"
    assert main(["build", "--no-svg", str(path), "-o", str(out)]) == 1
    assert not out.exists()
    assert len(_errors(capsys.readouterr().err)) == 3


def test_past_the_cap_the_rest_are_counted(tmp_path, capsys):
    n = MAX_SHOWN + 5
    nodes = "".join(f"  n{i}: {{op: sigmoid, in: x, shape: [B, {i + 2}]}}\n" for i in range(n))
    path = tmp_path / "many.yaml"
    path.write_text("name: Many\ninputs:\n  x: [B, C]\ngraph:\n" + nodes
                    + "  out: {op: cat, in: [" + ", ".join(f"n{i}" for i in range(n))
                    + "], dim: 1}\noutputs: out\n")
    assert main(["check", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    shown = _errors("\n".join(lines))
    assert [line for line, *_ in shown] == list(range(5, 5 + MAX_SHOWN))  # in file order
    assert lines[-2:] == ["attngen: ... and 5 more errors (not shown)",
                          f"attngen: {n} errors in {path}"]


def test_errors_in_several_files_are_counted_per_file(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(SPEC)
    (tmp_path / "b.yaml").write_text(SPEC.replace("name: Three", "name: Other")
                                     .replace("dims: [0, 2, 1]", "dims: [0, 1, 2, 3]"))
    assert main(["check", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    # b.yaml: a is right there, so b, f and e are checked, and e is wrong
    assert last == f"attngen: 6 errors: 3 in {tmp_path / 'a.yaml'}, 3 in {tmp_path / 'b.yaml'}"


@pytest.mark.parametrize("config", [True, False])
def test_errors_of_a_configuration_are_collected_too(tmp_path, capsys, config):
    """With a bool param, each configuration is checked; an error of one and an error of
    every configuration are both reported, each once."""
    path = tmp_path / "c.yaml"
    path.write_text(f"""\
name: Conf
params:
  gate: {config}
inputs:
  x: [B, C]
graph:
  a: {{op: sigmoid, in: x, when: gate, shape: [B, C, C]}}
  b: {{op: relu, in: x, shape: [C]}}
  out: {{op: add, in: [x, b]}}
outputs: out
""")
    assert main(["check", str(path)]) == 1
    assert [e[3] for e in _errors(capsys.readouterr().err)] == ["a", "b"]


def test_the_page_of_attngen_serve_gets_every_error(tmp_path, monkeypatch):
    (tmp_path / "three.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    ws = Workspace(["."], svg=False)
    ws.rebuild()
    errors = ws.views["three.yaml"].as_dict()["errors"]
    assert [(e["line"], e["code"]) for e in errors] == [(5, "E403"), (7, "E400"), (8, "E400")]
