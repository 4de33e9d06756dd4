"""Issue 13 point 8's misleading messages, each provoked (the others have their own tests:
E404 hints in test_requires.py and test_e404_hints.py, the dim-index rule in
test_requires.py, reserved names in test_rename_hint.py, layer arguments in
test_constructor_names.py)."""

import pytest
from fuzzing import run_cli

HEAD = "name: M\nparams:\n  c: {default: 8}\ninputs:\n  x: [B, C, L]\ngraph:\n"

# graph lines -> (exit status, text the diagnostics must hold, text they must not)
CASES = {
    # was "cannot evaluate 'C % 4 == 0': unknown name 'C'" at build time
    "when on an input dim": (
        "  y: {op: sigmoid, in: x, when: C % 4 == 0}\noutputs: y\n", 1,
        ["M.yaml:7:33: error[E202]: node 'y': 'C % 4 == 0' names input dim 'C' (of input 'x')",
         "make it a param: `params: {C: {type: int, example: 64}}`"], ["cannot evaluate"]),
    "output when on an input dim": (
        "  y: {op: sigmoid, in: x}\noutputs: [y, {name: x, when: C > 2}]\n", 1,
        ["error[E202]: output 'x': 'C > 2' names input dim 'C'"], ["cannot evaluate"]),
    # requires may name input dims now: checked in forward
    "requires on an input dim": (
        "  y: {op: view, in: x, to: [B, 4, C // 4, L]}\noutputs: y\nrequires: [C % 4 == 0]\n",
        0, [], []),
    # was "must be a list of dims, got a string" for an expression, and an int refused
    "split by an expression": (
        "  s: {op: split, in: x, split_size_or_sections: C // 2, dim: 1, out: [a, b]}\n"
        "outputs: [a, b]\n", 1, ["error[E404]", "requires: [C % 2 == 0]"],
        ["got a string", "must be a list of dims"]),
    "split by a list of expressions": (
        "  s: {op: split, in: x, split_size_or_sections: [C // 2, C - C // 2], dim: 1,"
        " out: [a, b]}\noutputs: [a, b]\n", 0, [], []),
    "split by an int, unstated": (
        "  s: {op: split, in: x, split_size_or_sections: 4, dim: 1, out: [a, b]}\n"
        "outputs: [a, b]\n", 1,  # C/4 pieces: no `requires` fixes their count
        ["error[E402]", "use chunk with a number of chunks"],
        ["got a string", "must be a list", "requires:"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_message(tmp_path, case):
    graph, code, present, absent = CASES[case]
    spec = tmp_path / "M.yaml"
    spec.write_text(HEAD + graph)
    res = run_cli(["check", "-q", str(spec)])
    assert res.code == code, res.err
    for text in present:
        assert text in res.err, res.err
    for text in absent:
        assert text not in res.err, res.err
    assert "Traceback" not in res.err


# specs whose messages pick among several terms: two floors, two mins, a chain of hints
SEEDED = {
    "patches.yaml": "name: P\nparams:\n  p: {default: 2}\ninputs:\n  img: [B, C, H, W]\n"
                    "graph:\n  y: {op: view, in: img, to: [B, C, H // p, p, W // p, p]}\n"
                    "outputs: y\n",
    "mins.yaml": "name: N\ninputs:\n  x: [B, C, H, W]\ngraph:\n"
                 "  s: {op: slice, in: x, dim: 1, stop: 4}\n"
                 "  t: {op: slice, in: s, dim: 2, stop: 3}\n"
                 "  y: {op: add, in: [s, t], shape: [B, 4, 3, W]}\noutputs: y\n",
    "chain.yaml": "name: Q\nparams:\n  h: {default: 4}\n  g: {default: 2}\ninputs:\n"
                  "  x: [B, N, D]\ngraph:\n  a: {op: view, in: x, to: [B, N, h, D // h]}\n"
                  "  y: {op: view, in: a, to: [B, N // g, g, h, D // h]}\noutputs: y\n",
}


def test_messages_do_not_depend_on_the_hash_seed(tmp_path):
    """Sets of sympy terms iterate in an order the process's hash seed decides; a message
    that picks among them (which floor to hint first) must not (it did: the patch view's
    two facts came in either order)."""
    import os
    import subprocess
    import sys

    for name, text in SEEDED.items():
        (tmp_path / name).write_text(text)
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        proc = subprocess.run([sys.executable, "-m", "attngen.cli", "check", *SEEDED],
                              capture_output=True, text=True, cwd=tmp_path, check=False,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert proc.returncode == 1 and "requires: [" in proc.stderr, proc.stderr
        outputs.add(proc.stderr)
    assert len(outputs) == 1, outputs


def test_an_error_inside_a_sub_spec_names_the_call_that_reached_it(tmp_path):
    """A caller's null reaching a sub-spec's param shape: the error is where the shape is
    (the sub-spec's line), and a note says which node of which file called it with what."""
    (tmp_path / "table.yaml").write_text(
        "name: Table\nparams:\n  rows: {type: int, example: 4}\ninputs:\n  x: [B, C]\n"
        "graph:\n  weight: {param: [rows, C_out], init: normal, unused: true}\n"
        "  y: {op: relu, in: x}\noutputs: y\n".replace("C_out", "rows"))
    (tmp_path / "caller.yaml").write_text(
        "name: Caller\nparams:\n  n: {type: int, default: null}\ninputs:\n  x: [B, C]\n"
        "graph:\n  table: {use: table, args: [n], in: x}\noutputs: table\n")
    res = run_cli(["check", tmp_path / "caller.yaml"])
    assert res.code == 1, res.err
    assert "table.yaml:7:20: error[E402]: dim 'rows' is not an integer (None)" in res.err
    assert "note: in Table, used by node 'table' at " in res.err and \
        "caller.yaml:7:3 with rows=None" in res.err, res.err
