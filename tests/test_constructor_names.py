"""A layer is built in __init__, before any input exists: a layer or sub-spec argument that
names an input dim passed `check` and failed `build` (issue 13 point 8). It is a located
error at check time, whose fix (make the dim a param) checks when followed."""

import pytest
from fuzzing import assert_located_errors, run_cli

SUB = "name: Sub\nparams:\n  c: {type: int, example: 4}\ninputs:\n  x: [B, c]\n" \
      "graph:\n  fc: {op: Linear, args: [c, c], in: x}\noutputs: fc\n"

# node line (line 5 of the spec), where the dim stands in it
CASES = {
    "layer": ("  fc: {op: Linear, args: [C, 4], in: x, shape: [B, 4]}", "C, 4]"),
    "keyword": ("  fc: {op: Linear, in_features: C, out_features: 4, in: x, shape: [B, 4]}",
                "C, out"),
    "seq": ("  fc: {seq: [{op: Linear, args: [C, 4]}], in: x}", "C, 4]}"),
    "each": ("  fc: {each: 'k in [1, 2]', op: Linear, args: [C, k], in: x}", "C, k]"),
    "sub-spec": ("  fc: {use: sub.yaml, c: C, in: x}", "C, in"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["check", "build", "verify"])
def test_a_constructor_argument_naming_an_input_dim_is_located(tmp_path, case, command):
    node, at = CASES[case]
    (tmp_path / "sub.yaml").write_text(SUB)
    spec = tmp_path / "lin.yaml"
    spec.write_text(f"name: Lin\ninputs:\n  x: [B, C]\ngraph:\n{node}\noutputs: fc\n")
    argv = [command, str(spec)] + (["--no-svg", "-o", str(tmp_path / "out")]
                                   if command == "build" else [])
    res = run_cli(argv)
    assert_located_errors(res)
    col = node.index(at) + 1
    assert f"lin.yaml:5:{col}: error[E202]: " in res.err, res.err
    assert "input dim 'C'" in res.err and "__init__" in res.err, res.err
    assert "make it a param" in res.err, res.err
    # the fix, followed: C a param, the input's dim read from it
    spec.write_text(f"name: Lin\nparams:\n  C: {{type: int, example: 8}}\ninputs:\n"
                    f"  x: [B, C]\ngraph:\n{node}\noutputs: fc\n")
    assert run_cli(["check", str(spec)]).code == 0
