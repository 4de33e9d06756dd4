"""What an unstated fact hides (assume.py): a node that fails only for a `requires` line
(E404) stops the nodes after it, so the spec is checked again as if the line were pasted,
and the errors that finds come in the same run, each noted with the lines assumed."""

import re

from requiring import run, write

# d_model // h needs d_model % h == 0; then N // p needs N % p == 0; then the annotation of
# `back` is wrong (an E400 no line fixes)
CHAIN = """\
name: Chain
params:
  d_model: {type: int, example: 64}
  h: {default: 4}
  p: {default: 2}
inputs:
  x: [B, N, d_model]
graph:
  heads: {op: view, in: x, to: [B, N, h, d_model // h]}
  t:     {op: permute, in: heads, dims: [0, 2, 1, 3]}
  grid:  {op: view, in: t, to: [B, h, N // p, p, d_model // h]}
  back:  {op: reshape, in: grid, to: [B, N, d_model], shape: [B, N, d_model * 2]}
outputs: back
"""
HEAD = re.compile(r"^\S+?:(\d+):\d+: error\[(E\d{3})\]: node '(\w+)'", re.M)


def test_one_run_reports_what_each_missing_line_hid(tmp_path, capsys):
    code, err = run(capsys, "check", write(tmp_path, "chain.yaml", CHAIN))
    assert code == 1
    assert HEAD.findall(err) == [("9", "E404", "heads"), ("11", "E404", "grid"),
                                 ("12", "E400", "back")], err
    assert err.count("found assuming") == 2
    assert "state it with requires: [N % p == 0]\n  note: inputs: (B, h, N, d_model // h)\n" \
        "  note: rule: view: same number of elements; one dim may be -1\n  note: found " \
        "assuming requires: [d_model % h == 0], as asked above\n" in err, err
    assert "  note: found assuming requires: [d_model % h == 0, N % p == 0], as asked above\n" \
        "attngen: 3 errors in" in err, err


def test_the_lines_pasted_leave_the_error_they_did_not_hide(tmp_path, capsys):
    """Pasted, the two lines fix the two E404s, and what is left is the E400 the first run
    showed, word for word but for the note."""
    path = write(tmp_path, "chain.yaml", CHAIN)
    _, first = run(capsys, "check", path)
    back = first[first.index("chain.yaml:12:"):first.index("  note: found assuming requires: "
                                                           "[d_model % h == 0, N % p == 0]")]
    path.write_text(CHAIN.replace("inputs:", "requires: [d_model % h == 0, N % p == 0]\n"
                                  "inputs:"))
    code, err = run(capsys, "check", path)
    assert code == 1 and HEAD.findall(err) == [("13", "E400", "back")], err
    assert back.replace("chain.yaml:12:", "chain.yaml:13:") in err and "assuming" not in err


def test_nothing_hidden_adds_nothing(tmp_path, capsys):
    """With the line assumed the rest checks: the error is what it was, with no note."""
    text = CHAIN.replace("N // p, p", "N, 1").replace("d_model * 2", "d_model")
    code, err = run(capsys, "check", write(tmp_path, "one.yaml", text))
    assert code == 1 and HEAD.findall(err) == [("9", "E404", "heads")], err
    assert "assuming" not in err


def test_the_rounds_are_bounded(tmp_path, capsys):
    """Each node splits one more dim by g, reading the node before: each line found hides
    the next. Three rounds of assumed lines, then the check stops (the fifth node's line is
    for the next run)."""
    dims = ["A", "C", "D", "E", "G"]
    graph, prev, shape = "", "x", ["B", *dims]
    for i, d in enumerate(dims, 1):
        k = shape.index(d)
        shape = [*shape[:k], f"{d} // g", "g", *shape[k + 1:]]
        graph += f"  v{i}: {{op: view, in: {prev}, to: [{', '.join(shape)}]}}\n"
        prev = f"v{i}"
    text = (f"name: Deep\nparams:\n  g: {{default: 2}}\ninputs:\n  x: [B, {', '.join(dims)}]\n"
            f"graph:\n{graph}outputs: v5\n")
    code, err = run(capsys, "check", write(tmp_path, "deep.yaml", text))
    assert code == 1
    assert [n for _, _, n in HEAD.findall(err)] == ["v1", "v2", "v3", "v4"], err
    assert "requires: [A % g == 0]" in err and "requires: [E % g == 0]" in err
    assert "found assuming requires: [A % g == 0, C % g == 0, D % g == 0], as asked" in err


GROUPED = """\
name: Grouped
params:
  c: {default: C0}
  g: {default: 4}
inputs:
  x: [B, c, L]
graph:
  y: {op: view, in: x, to: [B, g, c // g, L]}
  z: {op: reshape, in: y, to: [B, c, L], shape: [B, c, L, 1]}
outputs: z
"""


def test_a_line_the_defaults_break_is_no_hint_and_nothing_is_assumed(tmp_path, capsys):
    """c % g == 0 over params alone: with c = 8 by default it is the line to paste, and the
    wrong annotation after it is found assuming it; with c = 6 the defaults break it
    (pasted, E405), so the error is the view at the defaults, with no line."""
    code, err = run(capsys, "check", write(tmp_path, "g.yaml", GROUPED.replace("C0", "8")))
    assert code == 1 and HEAD.findall(err) == [("8", "E404", "y"), ("9", "E400", "z")], err
    assert "requires: [c % g == 0]" in err and "found assuming requires: [c % g == 0]" in err
    code, err = run(capsys, "check", write(tmp_path, "g.yaml", GROUPED.replace("C0", "6")))
    assert code == 1 and HEAD.findall(err) == [("8", "E403", "y")], err
    assert "counterexample: B=7, L=5, c=6, g=4" in err and "requires" not in err
