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
