"""The checker: each kind of spec error, its code, message and file:line:col."""

import re
import textwrap

import pytest
from attngen.cli import main

GOOD = """\
name: Tiny
params:
  channel: 8
  reduction: 2
inputs:
  x: [B, channel, H, W]
graph:
  pool: {op: AdaptiveAvgPool2d, args: [1], in: x, shape: [B, channel, 1, 1]}
  flat: {op: view, in: pool, to: [B, channel], shape: [B, channel]}
  fc:   {op: Linear, args: [channel, channel // reduction], in: flat,
         shape: [B, channel // reduction]}
  out:  {op: Sigmoid, in: fc}
outputs: out
"""


def check(tmp_path, capsys, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def first_error(err: str):
    """(line, col, code, message) of the first diagnostic."""
    m = re.search(r":(\d+):(\d+): error\[(E\d{3})\]: (.*)", err)
    assert m, f"no located diagnostic in: {err!r}"
    return int(m[1]), int(m[2]), m[3], m[4]


def test_good_spec_prints_shapes(tmp_path, capsys):
    code, err, out = check(tmp_path, capsys, GOOD)
    assert code == 0, err
    assert "fc" in out and "(B, channel // reduction)" in out


@pytest.mark.parametrize(
    "text, line, col, code, fragment",
    [
        # E100 YAML syntax
        ("name: X\ninputs: [\n", 3, 1, "E100", "YAML syntax error"),
        # E101 unknown key with a suggestion
        (
            GOOD.replace("shape: [B, channel // reduction]}", "shpe: [B, channel // reduction]}"),
            11,
            10,
            "E101",
            "unknown key 'shpe' in node 'fc' (op Linear); did you mean 'shape'?",
        ),
        (GOOD.replace("outputs: out", "output: out"), 13, 1, "E101", "did you mean 'outputs'?"),
        # E101 with no close key: the keys allowed there
        (GOOD.replace("out:  {op: Sigmoid, in: fc}", "out:  {op: Sigmoid, in: fc, end: 3}"),
         12, 31, "E101", "note: keys allowed here: apply, args, cases, doc, each, if_given, in,"),
        # E102 wrong type
        (
            GOOD.replace("graph:\n", "graph: 3\n").split("  pool")[0] + "outputs: out\n",
            7,
            8,
            "E102",
            "'graph' must be a mapping of node name: node, got an integer",
        ),
        # E103 missing key
        (GOOD.replace("outputs: out\n", ""), 1, 1, "E103", "missing required key 'outputs'"),
        # E104 identifiers
        (
            GOOD.replace("  out:  {op: Sigmoid", "  class: {op: Sigmoid").replace(
                "outputs: out", "outputs: class"
            ),
            12,
            3,
            "E104",
            "'class' is a Python keyword",
        ),
        (
            GOOD.replace("  out:  {op: Sigmoid", "  forward: {op: Sigmoid").replace(
                "outputs: out", "outputs: forward"
            ),
            12,
            3,
            "E104",
            "shadow nn.Module.forward",
        ),
        # E106 duplicate key
        (
            GOOD.replace(
                "  out:  {op: Sigmoid, in: fc}",
                "  out:  {op: Sigmoid, in: fc}\n  out:  {op: ReLU, in: fc}",
            ),
            13,
            3,
            "E106",
            "duplicate key 'out'",
        ),
        # E200 expression syntax, E201 disallowed construct, E202 unknown name
        (
            GOOD.replace("channel // reduction]}", "channel // ]}"),
            11,
            21,
            "E200",
            "invalid expression",
        ),
        (
            GOOD.replace(
                "args: [channel, channel // reduction]", "args: [channel, __import__('os')]"
            ),
            10,
            38,
            "E201",
            "not allowed",
        ),
        (
            GOOD.replace(
                "args: [channel, channel // reduction]", "args: [channel, channel // reductoin]"
            ),
            10,
            49,
            "E202",
            "unknown name 'reductoin'",
        ),
        # E300 unknown reference with a suggestion, E301 cycle, E302 unused, E303 unknown output
        (GOOD.replace("in: flat,", "in: flt,"), 10, 65, "E300", "did you mean 'flat'?"),
        (
            GOOD.replace("in: x, shape: [B, channel, 1, 1]", "in: out"),
            8,
            3,
            "E301",
            "cycle in the graph: pool -> flat -> fc -> out -> pool",
        ),
        (
            GOOD.replace(
                "  out:  {op: Sigmoid, in: fc}",
                "  out:  {op: Sigmoid, in: fc}\n  extra: {op: ReLU, in: fc}",
            ),
            13,
            3,
            "E302",
            "node 'extra' does not reach any output",
        ),
        (
            GOOD.replace("outputs: out", "outputs: result"),
            13,
            10,
            "E303",
            "output 'result' is not a node",
        ),
        # E400 shape mismatch: both shapes and the rule
        (
            GOOD.replace("shape: [B, channel // reduction]}", "shape: [B, channel]}"),
            11,
            21,
            "E400",
            "node 'fc': shape (B, channel // reduction) does not match annotation [B, channel]",
        ),
        # E401 unknown op with a suggestion
        (
            GOOD.replace("op: Sigmoid", "op: Sigmod"),
            12,
            14,
            "E401",
            "unknown op 'Sigmod'; did you mean 'Sigmoid'?",
        ),
        # E402 bad arguments
        (
            GOOD.replace("args: [channel, channel // reduction]", "args: [channel, 4, true, 5]"),
            10,
            28,
            "E402",
            "takes at most 3 positional arguments",
        ),
        # E403 an op's shape rule is violated
        (
            GOOD.replace(
                "args: [channel, channel // reduction]", "args: [2 * channel, channel]"
            ).replace("shape: [B, channel // reduction]}", "shape: [B, channel]}"),
            10,
            3,
            "E403",
            "last dim is channel but in_features is 2*channel",
        ),
        # E405 a requirement fails at the defaults
        (
            GOOD.replace("inputs:", "requires: [channel % 3 == 0]\ninputs:"),
            5,
            12,
            "E405",
            "requirement 'channel % 3 == 0' does not hold for the defaults",
        ),
    ],
)
def test_error_kinds(tmp_path, capsys, text, line, col, code, fragment):
    exit_code, err, _ = check(tmp_path, capsys, text)
    assert exit_code == 1
    assert "Traceback" not in err
    got = first_error(err)
    assert got[:3] == (line, col, code), err
    assert fragment in got[3] or fragment in err, err
    assert err.startswith(str(tmp_path / "spec.yaml")), err


@pytest.mark.parametrize("good, wrong", [
    ("graph:\n", "nodes:\n"),  # closest by spelling is 'binds'
    ("graph:\n", "layers:\n"),
    ("params:\n", "hparams:\n"),
    ("in: fc}", "inputs: fc}"),  # a node's inputs
    ("in: fc}", "from: fc}"),
    ("{op: Sigmoid,", "{type: Sigmoid,"),
])
def test_a_key_from_another_tools_vocabulary_suggests_ours_and_the_fix_works(
        tmp_path, capsys, good, wrong):
    """E101 names the key other tools call `wrong`; pasting the suggestion fixes the spec."""
    code, err, _ = check(tmp_path, capsys, GOOD.replace(good, wrong, 1))
    assert code == 1
    meant = re.search(r"did you mean '(\w+)'", err)  # in the message or a note
    assert meant, err
    key = wrong.split(":")[0].lstrip("{")
    fixed = GOOD.replace(good, wrong.replace(f"{key}:", f"{meant[1]}:"), 1)
    assert check(tmp_path, capsys, fixed)[0] == 0


@pytest.mark.parametrize("own, pasted", [
    ("requires: [channel >= 2]\n", "requires: [reduction >= 1, \"channel % reduction == 0\"]\n"),
    ("requires:\n  - channel >= 2\n  - channel >= 2\n", "requires: [reduction >= 1]\n"),
])
def test_a_list_key_given_twice_suggests_the_merged_line_and_it_works(tmp_path, capsys,
                                                                      own, pasted):
    """A `requires: [...]` line pasted under the spec's own: E106 gives the one line holding
    both lists (each item once, quoted where YAML needs it), which checks when pasted."""
    text = GOOD.replace("inputs:\n", own + "inputs:\n") + pasted
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1 and "error[E106]: duplicate key 'requires'" in err, err
    line = re.search(r"note: merge them into one: (requires: \[.*\])$", err, re.M)
    assert line, err
    merged = GOOD.replace("inputs:\n", line[1] + "\ninputs:\n")
    code, err, _ = check(tmp_path, capsys, merged)
    assert code == 0, err
    assert line[1].count("channel >= 2") == 1


def test_a_key_given_twice_without_lists_has_no_merge_hint(tmp_path, capsys):
    code, err, _ = check(tmp_path, capsys, GOOD + "name: Other\n")
    assert code == 1 and "duplicate key 'name'" in err and "merge" not in err, err


def test_shape_mismatch_shows_rule_and_bound_dims(tmp_path, capsys):
    text = GOOD.replace("shape: [B, channel // reduction]}", "shape: [B, channel]}")
    _, err, _ = check(tmp_path, capsys, text)
    assert "note: rule: Linear: [*, in_features] -> [*, out_features]" in err
    assert "counterexample:" in err
    assert "dims bound so far:" in err and "B=input 'x'" in err


def test_all_errors_reported_at_once(tmp_path, capsys):
    text = GOOD.replace("op: Sigmoid", "op: Sigmod").replace("op: view", "op: veiw")
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1
    assert err.count("error[E401]") == 2
    assert "attngen: 2 errors" in err


def test_divisibility_relied_on_but_not_stated(tmp_path, capsys):
    # (C // r) * r channels equal C only when r divides C
    text = """\
    name: Split
    params:
      channel: 8
      groups: 4
    inputs:
      x: [B, channel, L]
    graph:
      grouped: {op: view, in: x, to: [B, groups, channel // groups, L]}
      back:    {op: reshape, in: grouped, to: [B, channel, L], shape: [B, channel, L]}
    outputs: back
    """
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1
    line, _, ecode, _ = first_error(err)
    assert (line, ecode) == (8, "E404"), err
    assert "channel % groups == 0" in err
    fixed = text.replace("inputs:", "requires: [channel % groups == 0]\n    inputs:")
    code, err, _ = check(tmp_path, capsys, fixed)
    assert code == 0, err


def test_eca_kernel_must_be_odd(tmp_path, capsys):
    from conftest import REPO_ROOT

    text = (REPO_ROOT / "specs" / "eca.yaml").read_text()
    without = text.replace("requires:\n  - kernel_size % 2 == 1", "")
    code, err, _ = check(tmp_path, capsys, without, "eca.yaml")
    assert code == 1
    assert "error[E404]" in err and "kernel_size % 2 == 1" in err, err


def test_conv_groups_must_divide_channels(tmp_path, capsys):
    text = GOOD.replace(
        "  flat:", "  grp: {op: Conv2d, args: [channel, channel, 1], groups: 3, in: pool}\n  flat:"
    ).replace("in: pool, to:", "in: grp, to:")
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1
    # the defaults (channel 8) break it: no `requires` line could make it hold
    assert "error[E402]" in err and "channel is not divisible by 3 at the defaults" in err, err
    assert "requires: [" not in err, err


@pytest.mark.parametrize("channels, groups, ok", [(6, 4, False), (8, 4, True), (6, 3, True)])
def test_conv_groups_with_literal_channels(tmp_path, capsys, channels, groups, ok):
    text = f"""\
        name: Grouped
        inputs:
          x: [B, {channels}, H, W]
        graph:
          grp: {{op: Conv2d, args: [{channels}, {channels}, 1], groups: {groups}, in: x}}
        outputs: grp
        """
    code, err, _ = check(tmp_path, capsys, text)
    if ok:
        assert code == 0, err
        return
    assert code == 1 and "error[E402]" in err and "6 is not divisible by 4" in err, err
    assert "counterexample" not in err  # numbers: nothing to sample, no made-up assignment
    assert "requires:" not in err  # nor a line to state (it was `requires: [3 % 2 == 0]`)


def test_missing_file_and_usage_errors(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err
    assert "nope.yaml: error[E500]: no such file or folder" in err
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["build"])
    assert exc.value.code == 2


def test_use_cycle_names_the_chain(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(GOOD.replace("  out:  {op: Sigmoid, in: fc}",
                                                  "  out:  {use: b, in: fc}"))
    (tmp_path / "b.yaml").write_text(GOOD.replace("name: Tiny", "name: TinyB").replace(
        "  out:  {op: Sigmoid, in: fc}", "  out:  {use: a, in: fc}"))
    assert main(["check", str(tmp_path / "a.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E501]" in err and "a.yaml -> " in err and "b.yaml -> " in err, err


# -- sizes at the defaults: a zero or negative dim is an empty or unbuildable layer ------------
@pytest.mark.parametrize("text, line, message, note", [
    # channel // reduction is 0 for channel 8, reduction 16: Linear(8, 0), a dead gate
    (GOOD.replace("reduction: 2", "reduction: 16"), 10,
     ("node 'fc': dim 1 of Linear's output, channel // reduction, is 0 at the default sizes "
      "(must be at least 1)"), "note: defaults: channel=8, reduction=16"),
    # a negative input size, reported at the input
    (GOOD.replace("channel: 8", "channel: -8"), 6,
     "dim 1 of input 'x', channel, is -8 at the default sizes (must be at least 1)",
     "note: defaults: channel=-8"),
])
def test_sizes_below_one_at_the_defaults_are_errors(tmp_path, capsys, text, line, message,
                                                     note):
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1
    assert first_error(err) == (line, 3, "E403", message)
    assert note in err


def test_a_size_that_is_zero_in_one_configuration_names_it(tmp_path, capsys):
    text = GOOD.replace("  reduction: 2\n", "  reduction: {default: 2, choices: [2, 16]}\n")
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1
    assert "is 0 at the default sizes (must be at least 1) (when reduction=16)" in err


def test_sizes_of_at_least_one_at_the_defaults_pass(tmp_path, capsys):
    # 2 * channel // reduction is 16 at the defaults (channel 8, reduction 1)
    text = GOOD.replace("reduction: 2", "reduction: 1").replace(
        "args: [channel, channel // reduction]", "args: [channel, 2 * channel // reduction]"
    ).replace("shape: [B, channel // reduction]}", "shape: [B, 2 * channel // reduction]}")
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 0, err


CONV = """\
name: C
params:
  c: 8
inputs:
  x: [B, c, H, W]
graph:
  conv: {op: Conv2d, in: x, in_channels: c, out_channels: c, kernel_size: 3, ARG}
outputs: conv
"""


@pytest.mark.parametrize("arg, message", [
    ("stride: 0", "Conv2d's 'stride' is 0 at the default sizes (must be at least 1)"),
    ("padding: -1", "Conv2d's 'padding' is -1 at the default sizes (must be at least 0)"),
    # was E404 "c is not always divisible by 0", with a `requires: [c % 0 == 0]` hint
    ("groups: 0", "Conv2d's 'groups' is 0 at the default sizes (must be at least 1)"),
    ("dilation: c - 8", "Conv2d's 'dilation' is 0 at the default sizes (must be at least 1)"),
])
def test_op_arguments_out_of_range_at_the_defaults(tmp_path, capsys, arg, message):
    code, err, _ = check(tmp_path, capsys, CONV.replace("ARG", arg))
    assert code == 1
    line, col, ecode, got = first_error(err)
    value_col = CONV.splitlines()[6].index("ARG") + len(arg.split(":")[0]) + 3
    assert (line, col, ecode, got) == (7, value_col, "E402", f"node 'conv': {message}")


@pytest.mark.parametrize("node, message", [
    ("{op: Conv2d, in: x, in_channels: c, out_channels: c, kernel_size: [3, 0]}",
     "Conv2d's 'kernel_size' is 0"),
    ("{op: Dropout, p: 1.5, in: x}",
     "Dropout's 'p' is 1.5 at the default sizes (must be from 0 to 1)"),
    ("{op: MaxPool2d, kernel_size: 0, in: x}", "MaxPool2d's 'kernel_size' is 0"),
    ("{op: max_pool2d, kernel_size: 2, stride: 0, in: x}", "max_pool2d's 'stride' is 0"),
    ("{op: BatchNorm2d, num_features: c, momentum: 2, in: x}", "BatchNorm2d's 'momentum' is 2"),
])
def test_range_checks_across_the_op_library(tmp_path, capsys, node, message):
    text = CONV.replace("{op: Conv2d, in: x, in_channels: c, out_channels: c, kernel_size: 3, "
                        "ARG}", node)
    code, err, _ = check(tmp_path, capsys, text)
    assert code == 1 and "error[E402]" in err and message in err, err


def test_an_argument_out_of_range_in_one_configuration_names_it(tmp_path, capsys):
    text = CONV.replace("  c: 8\n", "  c: 8\n  s: {default: 1, choices: [1, 0]}\n")
    code, err, _ = check(tmp_path, capsys, text.replace("ARG", "stride: s"))
    assert code == 1
    assert "Conv2d's 'stride' is 0 at the default sizes (must be at least 1) (when s=0)" in err


def test_arguments_in_range_pass(tmp_path, capsys):
    text = CONV.replace("ARG", "stride: 2, padding: 0, dilation: 1, groups: c")
    # the unpadded 3x3 window fits only an input of at least 3 x 3
    code, err, _ = check(tmp_path, capsys, text.replace("inputs:", "requires: [H >= 3, W >= 3]\n"
                                                        "inputs:"))
    assert code == 0, err


@pytest.mark.parametrize("arg, message, hint", [
    # the defaults break it: no line to paste (it was `requires: [c % (1 + c) == 0]`)
    ("groups: c + 1", "in_channels must be divisible by groups: c is not divisible by 1 + c "
     "at the defaults (8 by 9): no `requires` line makes it hold there", None),
    # the defaults keep it: the line that states it
    ("groups: g", "in_channels must be divisible by groups: c is not always divisible by g",
     "requires: [c % g == 0]"),
])
def test_a_divisibility_the_defaults_break_asks_for_no_requires_line(
        tmp_path, capsys, arg, message, hint):
    text = CONV.replace("  c: 8\n", "  c: 8\n  g: 2\n").replace("ARG", arg)
    code, err, _ = check(tmp_path, capsys, text.replace("inputs:", "requires: [H >= 3, W >= 3]\n"
                                                        "inputs:"))
    assert code == 1 and message in err, err
    assert (hint in err) if hint else ("requires: [" not in err), err


STEM = """\
name: Net
params:
  dim: {default: 8}
  patch_size: {default: 7}
inputs:
  x: [B, 3, H, W]
graph:
  layers:
    seq:
      - {op: Conv2d, args: [3, dim], kernel_size: patch_size, stride: patch_size}
      - {use: same_conv, dim: dim}
    in: x
outputs: layers
"""
SAME_CONV = """\
name: SameConv
params:
  dim: {type: int, example: 8}
requires: [H >= 1]
inputs:
  x: [B, dim, H, W]
graph:
  conv: {op: Conv2d, args: [dim, dim], kernel_size: 9, padding: 4, in: x, shape: [B, dim, H, W]}
outputs: conv
"""


def test_a_stem_s_bound_is_asked_before_the_sub_module_after_it_runs(tmp_path, capsys):
    """The stem conv's output is empty where H < patch_size: that is the error, at the
    seq's node, not the sub-module's conv reading `9 + (H - patch_size) // patch_size >= 9`."""
    (tmp_path / "same_conv.yaml").write_text(SAME_CONV)
    code, err, _ = check(tmp_path, capsys, STEM, "net.yaml")
    assert code == 1 and "same_conv.yaml" not in err, err
    assert "net.yaml:8:3: error[E404]: node 'layers'" in err, err
    assert "state them: requires: [H >= patch_size, W >= patch_size]" in err, err
    pasted = STEM.replace("inputs:", "requires: [H >= patch_size, W >= patch_size]\ninputs:")
    code, err, _ = check(tmp_path, capsys, pasted, "net.yaml")
    assert code == 0, err
