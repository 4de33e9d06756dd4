"""Checker errors for several and optional inputs (if_given), matmul, views that rely
on divisibility, and init rules: code, message and file:line:col of each."""

import re
import textwrap

import pytest
from attngen.cli import main

ATT = """\
name: Att
params:
  d_model: 16
  h: 4
let:
  d_k: d_model // h
requires:
  - d_model % h == 0
inputs:
  queries: [B, nq, d_model]
  keys: [B, nk, d_model]
  mask: {shape: [B, h, nq, nk], optional: true, dtype: bool}
graph:
  proj:   {op: Linear, args: [d_model, d_model], in: queries, shape: [B, nq, d_model]}
  q:      {op: view, in: proj, to: [B, nq, h, d_k], shape: [B, nq, h, d_k]}
  qt:     {op: permute, in: q, dims: [0, 2, 1, 3], shape: [B, h, nq, d_k]}
  k:      {op: view, in: keys, to: [B, nk, h, d_k], shape: [B, nk, h, d_k]}
  kt:     {op: permute, in: k, dims: [0, 2, 3, 1], shape: [B, h, d_k, nk]}
  scores: {op: matmul, in: [qt, kt], shape: [B, h, nq, nk]}
  masked: {op: masked_fill, in: [scores, mask], value: -inf, if_given: mask,
           shape: [B, h, nq, nk]}
  probs:  {op: softmax, in: masked, dim: -1, shape: [B, h, nq, nk]}
outputs: probs
init:
  - {op: Linear, weight: normal, std: 0.001, bias: zeros}
"""


def run(tmp_path, capsys, text, cmd="check"):
    path = tmp_path / "att.yaml"
    path.write_text(textwrap.dedent(text))
    args = [cmd, str(path)] + (["-o", str(tmp_path / "out"), "--no-svg"] if cmd == "build" else [])
    code = main(args)
    return code, capsys.readouterr().err


def edit(old, new, base=ATT):
    assert base.count(old) == 1, old
    return base.replace(old, new)


def at(text, needle, nth=0):
    """1-based (line, col) of the nth occurrence of `needle` in `text`."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def errors(err):
    """[(line, col, code, message)] of every diagnostic, in order."""
    return [(int(m[1]), int(m[2]), m[3], m[4])
            for m in re.finditer(r":(\d+):(\d+): error\[(E\d{3})\]: (.*)", err)]


def test_good_spec_builds_if_block_for_optional_input(tmp_path, capsys):
    code, err = run(tmp_path, capsys, ATT, "build")
    assert code == 0, err
    source = (tmp_path / "out" / "att.py").read_text()
    assert ("    def forward(\n        self,\n        queries: torch.Tensor,\n"
            "        keys: torch.Tensor,\n        mask: torch.Tensor | None = None,\n"
            "    ) -> torch.Tensor:\n") in source
    assert "        masked = scores\n        if mask is not None:\n" \
           "            masked = scores.masked_fill(mask, float(\"-inf\"))\n" in source
    assert "nn.init.normal_(m.weight, std=0.001)" in source


def _case(old, new, needle, code, fragment, nth=0):
    text = edit(old, new)
    return pytest.param(text, at(text, needle, nth), code, fragment, id=fragment[:40])


@pytest.mark.parametrize("text, where, code, fragment", [
    # if_given must name an optional input
    _case("if_given: mask", "if_given: keys", "keys,\n", "E402",
          "node 'masked': 'if_given: keys' must name an optional input; 'keys' is always given"),
    _case("if_given: mask", "if_given: qt", "qt,\n", "E402",
          "node 'masked': 'if_given: qt' must name an optional input, not a node"),
    _case("if_given: mask", "if_given: mask_", "mask_", "E300",
          "node 'masked': 'if_given: mask_' names no input; did you mean 'mask'?"),
    # an optional input is None when absent: only its if_given node may read it
    _case("value: -inf, if_given: mask,", "value: -inf,", "mask]", "E402",
          "node 'masked' reads optional input 'mask', which is None when not passed"),
    # the first input is what the node passes on when the optional input is absent
    _case("[scores, mask]", "[mask, scores]", "mask, scores", "E402",
          "node 'masked': its first input is passed on when 'mask' is absent, so it cannot "
          "be 'mask' itself"),
    _case("dtype: bool", "dtype: boolean", "boolean", "E102",
          "input 'mask': dtype must be one of float, bool, long, complex; did you mean 'bool'?"),
    # forward takes tensors and ints (PVT's forward(x, H, W)); another number is a param
    _case("  keys: [B, nk, d_model]\n", "  keys: [B, nk, d_model]\n  H: {type: float}\n",
          "float", "E102", "input 'H': forward takes tensors and ints (sizes such as `H: int`), "
          "not a float"),
    _case("  keys: [B, nk, d_model]\n", "  keys: [B, nk, d_model]\n  H: {type: int, dtype: "
          "long}\n", "dtype: long", "E101",
          "unknown key 'dtype' in input 'H'; did you mean 'type'?"),
    _case("optional: true, dtype: bool}\n", "optional: true, dtype: bool}\n  H: int\n", "H: int",
          "E102", "input 'H' is required but follows the optional input 'mask'"),
    _case("  keys: [B, nk, d_model]\n", "  keys: [B, nk, d_model]\n  z: [B, m]\n  m: int\n",
          "m]", "E106", "dim 'm' of input 'z' is also an int input: forward would take it twice"),
    # init rules
    _case("std: 0.001", "std_dev: 0.001", "std_dev", "E101",
          "unknown key 'std_dev' in an init rule; did you mean 'std'?"),
    _case("op: Linear, weight", "op: Linaer, weight", "Linaer", "E401",
          "init: unknown layer type 'Linaer'; did you mean 'Linear'?"),
    _case("weight: normal", "weight: normall", "normall", "E102",
          "init weight: 'normall' is not one of normal, trunc_normal, kaiming_normal"),
    _case("std: 0.001", "std: big", "big", "E102",
          "init 'std' must be a number, got a string"),
    _case("weight: normal", "weight: zeros", "std:", "E102",
          "init 'std' applies only to weight: normal or trunc_normal, not to this rule (weight: "
          "zeros)"),
    _case("weight: normal, std: 0.001", "weight: kaiming_normal, mode: fan_both", "fan_both",
          "E102", "init mode must be fan_in or fan_out"),
    _case("weight: normal, std: 0.001", "weight: kaiming_uniform, nonlinearity: rellu", "rellu",
          "E102", "init nonlinearity must be one of relu, leaky_relu, linear, tanh, sigmoid; "
          "did you mean 'relu'?"),
    _case("weight: normal, std: 0.001, bias: zeros", "mode: fan_in", "{op: Linear, mode", "E103",
          "init rule for Linear sets neither 'weight' nor 'bias'"),
    _case("bias: zeros}\n", "bias: zeros}\n  - {op: Linear, weight: zeros}\n", "Linear", "E106",
          "a second init rule for Linear; one rule per layer type", nth=2),
])
def test_input_and_init_errors(tmp_path, capsys, text, where, code, fragment):
    status, err = run(tmp_path, capsys, text)
    assert status == 1, err
    found = errors(err)
    assert len(found) == 1, err
    line, col, got_code, message = found[0]
    assert (line, col, got_code) == (*where, code), err
    assert fragment in message, err
    assert "Traceback" not in err


def test_a_node_cannot_read_an_int_input_as_a_tensor(tmp_path, capsys):
    text = edit("in: [qt, kt]", "in: [qt, H]",
                edit("  keys: [B, nk, d_model]\n", "  keys: [B, nk, d_model]\n  H: int\n"))
    status, err = run(tmp_path, capsys, text)
    assert status == 1
    (line, col, code, message), = errors(err)
    assert ((line, col), code) == (at(text, "H]"), "E402")
    assert message == "node 'scores' reads 'H', an int input, as a tensor"
    assert "expressions read it" in err


def test_matmul_inner_dims_show_both_shapes(tmp_path, capsys):
    text = edit("in: [qt, kt]", "in: [qt, qt]")
    status, err = run(tmp_path, capsys, text)
    assert status == 1
    (line, col, code, message), = errors(err)
    assert (line, col, code) == (*at(text, "scores:"), "E403")
    # in the spec's lets: d_k, not d_model // h
    assert message == ("node 'scores': inner dim of the left input (its last) is d_k "
                       "but inner dim of the right input (its second to last) is nq")
    assert "note: inputs: (B, h, nq, d_k), (B, h, nq, d_k)" in err
    assert "note: rule: matmul: [*, n, k] @ [*, k, m] -> [*, n, m]" in err


def test_view_relying_on_unstated_divisibility(tmp_path, capsys):
    text = edit("  - d_model % h == 0", "  - d_model > 0")
    status, err = run(tmp_path, capsys, text)
    assert status == 1
    line, col, code, message = errors(err)[0]
    assert (line, col, code) == (*at(text, "q:      {op: view"), "E404")
    assert message.startswith("node 'q': number of elements is")
    assert "state it with requires: [d_model % h == 0]" in err


def test_if_given_must_not_change_the_shape(tmp_path, capsys):
    text = edit(
        "dtype: bool}\n", "dtype: bool}\n  w: {shape: [2, B, h, nq, nk], optional: true}\n"
    )
    text = edit("  probs:  {op: softmax, in: masked",
                "  weighted: {op: mul, in: [masked, w], if_given: w}\n"
                "  probs:  {op: softmax, in: weighted", text)
    status, err = run(tmp_path, capsys, text)
    assert status == 1
    (line, col, code, message), = errors(err)
    assert (line, col, code) == (*at(text, "weighted:"), "E403")
    assert message == ("node 'weighted': the shape must not depend on whether 'w' is given: "
                       "(2, B, h, nq, nk) with it, (B, h, nq, nk) without it")


def test_sub_spec_takes_optional_inputs_positionally(tmp_path, capsys):
    (tmp_path / "att.yaml").write_text(ATT)
    parent = textwrap.dedent("""\
        name: Outer
        inputs:
          x: [B, n, 16]
        graph:
          att: {use: att.yaml, in: [x, x, x, x], shape: [B, 4, n, n]}
        outputs: att
        """)
    path = tmp_path / "outer.yaml"
    path.write_text(parent)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    (line, col, code, message), = errors(err)
    assert (line, col, code) == (*at(parent, "att:"), "E402")
    assert message == "node 'att': Att takes 2 to 3 inputs (queries, keys, mask), got 4"
