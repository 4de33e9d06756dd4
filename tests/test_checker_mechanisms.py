"""Checker errors of the general mechanisms the library's modules need: repetition (`each`),
list values, split and cat, interpolate and max_pool, view and permute, matmul, softmax,
slicing, conditions (`when`, `cases`, conditional outputs), list inputs and sub-specs.

One valid spec exercises all of them; each case edits one line and asserts the error's
code, file:line:col and message.
"""

from __future__ import annotations

import pytest
from attngen.cli import main

BASE = """\
name: Mech
params:
  channel: 16
  kernels: [3, 5]
  flag: false
  mode: {default: a, choices: [a, b]}
requires: [channel % 2 == 0]
inputs:
  x: [B, channel, H, W]
  pair: {items: {lo: [B, channel, H, W], hi: [B, channel, 2 * H, 2 * W]}}
graph:
  branches: {each: k in kernels, op: Conv2d, args: [channel, channel, k], padding: k // 2, in: x,
             shape: [B, channel, H, W]}
  summed:   {op: add, in: branches, shape: [B, channel, H, W]}
  halves:   {op: split, in: summed, split_size_or_sections: [channel // 2, channel // 2], dim: 1,
             out: [a, b], shape: [[B, channel // 2, H, W], [B, channel // 2, H, W]]}
  joined:   {op: cat, in: [a, b], dim: 1, shape: [B, channel, H, W]}
  up:       {op: interpolate, in: joined, scale_factor: 2, mode: nearest,
             shape: [B, channel, 2 * H, 2 * W]}
  down:     {op: max_pool2d, in: up, args: [2], shape: [B, channel, H, W]}
  flat:     {op: view, in: down, to: [B, channel, H * W], shape: [B, channel, H * W]}
  perm:     {op: permute, in: flat, dims: [0, 2, 1], shape: [B, H * W, channel]}
  scores:   {op: matmul, in: [perm, flat], shape: [B, H * W, H * W]}
  probs:    {op: softmax, in: scores, dim: -1, shape: [B, H * W, H * W]}
  first:    {op: slice, in: probs, dim: 1, start: 0, stop: 1, shape: [B, 1, H * W]}
  gated:    {when: flag, op: Sigmoid, in: down}
  pick:
    cases:
      - {when: mode == "a", op: ReLU, in: down}
      - {when: mode == "b", op: Tanh, in: down}
    shape: [B, channel, H, W]
  hi_down:  {op: max_pool2d, in: hi, args: [2], shape: [B, channel, H, W]}
  mixed:    {op: add, in: [pick, hi_down]}
  inner:    {use: se, channel: channel, reduction: 4, in: mixed, shape: [B, channel, H, W]}
outputs: [first, inner, {name: gated, when: flag}]
"""


def _check(tmp_path, capsys, text):
    path = tmp_path / "mech.yaml"
    path.write_text(text, encoding="utf-8")
    code = main(["check", "-q", str(path)])
    return code, capsys.readouterr().err


def test_a_problem_in_several_configurations_is_reported_once(tmp_path, capsys):
    text = BASE.replace('- {when: mode == "b", op: Tanh',
                        '- {when: mode != "a" and mode != "b", op: Tanh')
    _, err = _check(tmp_path, capsys, text)
    assert err.count("error[") == 1, err
    assert "note: the same in 1 more configuration(s)" in err


def test_base_spec_is_valid(tmp_path, capsys):
    code, err = _check(tmp_path, capsys, BASE)
    assert code == 0, err


CASES = [
    # (shape errors point at the first dim that differs; a count of shapes at the shape list)
    # repetition over a list param
    ("each: k in kernels", "each: k in channel", (12, 25), "E402", "'each' needs a list, got 16"),
    (
        "padding: k // 2, in: x,",
        "padding: 0, in: x,",
        (13, 34),
        "E400",
        "node 'branches': shape (B, channel, -2 + H, -2 + W) does not match annotation",
    ),
    # list-valued tensors
    (
        "summed:   {op: add, in: branches,",
        "summed:   {op: add, in: [branches, x],",
        (14, 3),
        "E402",
        "node 'summed': input 0 is a list of tensors beside other inputs: add takes tensors, "
        "or one list alone",
    ),
    # split and cat
    (
        "split_size_or_sections: [channel // 2, channel // 2]",
        "split_size_or_sections: [8, 8]",
        (15, 3),
        "E403",
        "node 'halves': sum of the sizes is 16 but dim 1 is channel",
    ),
    (
        "out: [a, b],",
        "out: [a, b, c],",
        (16, 37),
        "E102",
        "node 'halves' has 3 outputs but 2 shapes",
    ),
    (
        "in: [a, b], dim: 1",
        "in: [a, hi], dim: 1",
        (17, 3),
        "E403",
        "node 'joined': dim 2 of input 1 is 2*H but dim 2 of input 0 is H",
    ),
    (
        "in: [a, b], dim: 1",
        "in: [a, b], dim: 4",
        (17, 3),
        "E403",
        "node 'joined': dim 4 is out of range for a 4-D tensor",
    ),
    # interpolate and max_pool
    (
        "mode: nearest,\n             shape: [B, channel, 2 * H, 2 * W]",
        "mode: nearest,\n             shape: [B, channel, H, W]",
        (19, 34),
        "E400",
        "node 'up': shape (B, channel, 2*H, 2*W) does not match annotation [B, channel, H, W]",
    ),
    (
        "in: up, args: [2]",
        "in: up, args: [3]",
        (20, 69),
        "E400",
        "node 'down': shape (B, channel, 2*H // 3, 2*W // 3) does not match annotation",
    ),
    # view and permute
    (
        "to: [B, channel, H * W]",
        "to: [B, channel, H]",
        (21, 3),
        "E403",
        "node 'flat': number of elements is B*H*channel but prod(input shape) is B*H*W*channel",
    ),
    (
        "to: [B, channel, H * W]",
        "to: [B, -1, -1]",
        (21, 3),
        "E403",
        "node 'flat': at most one -1 in a view",
    ),
    (
        "dims: [0, 2, 1]",
        "dims: [0, 1, 1]",
        (22, 3),
        "E403",
        "node 'perm': dims [0, 1, 1] are not a permutation of 0..2",
    ),
    # matmul, softmax, slicing
    (
        "in: [perm, flat]",
        "in: [perm, perm]",
        (23, 3),
        "E403",
        (
            "node 'scores': inner dim of the left input (its last) is channel "
            "but inner dim of the "
            "right input (its second to last) is H*W"
        ),
    ),
    (
        "in: scores, dim: -1",
        "in: scores, dim: 3",
        (24, 3),
        "E403",
        "node 'probs': dim 3 is out of range for a 3-D tensor",
    ),
    (
        "dim: 1, start: 0, stop: 1",
        "dim: 5, start: 0, stop: 1",
        (25, 3),
        "E403",
        "node 'first': dim 5 is out of range for a 3-D tensor",
    ),
    # conditions
    (
        "gated:    {when: flag,",
        "gated:    {when: flagg,",
        (26, 20),
        "E202",
        "unknown name 'flagg' in 'flagg'; did you mean 'flag'?",
    ),
    (
        '- {when: mode == "b", op: Tanh',
        '- {when: mode != "a" and mode != "b", op: Tanh',
        (27, 3),
        "E402",
        "node 'pick': no case applies, exactly one must (when flag=False, mode='b')",
    ),
    (
        '- {when: mode == "b", op: Tanh',
        '- {when: mode == "a", op: Tanh',
        (27, 3),
        "E402",
        "node 'pick': 2 cases apply, exactly one must (when flag=False, mode='a')",
    ),
    (
        "{name: gated, when: flag}",
        "gated",
        (35, 25),
        "E303",
        "output 'gated' does not exist (when flag=False, mode='a')",
    ),
    # list inputs: their items are the names
    (  # a list input read whole is a list (zip:, cat, map: true read it)
        "hi_down:  {op: max_pool2d, in: hi,",
        "hi_down:  {op: max_pool2d, in: pair,",
        (32, 3),
        "E402",
        "node 'hi_down': input 0 is a list of tensors; use an op that takes a list",
    ),
    (
        "hi_down:  {op: max_pool2d, in: hi,",
        "hi_down:  {op: max_pool2d, in: pairs,",
        (32, 34),
        "E300",
        "node 'hi_down' uses unknown 'pairs'; did you mean 'pair'?",
    ),
    (
        "hi: [B, channel, 2 * H, 2 * W]",
        "hi: [B, channel, 3 * H, 3 * W]",
        (32, 69),
        "E400",
        "node 'hi_down': shape (B, channel, 3*H // 2, 3*W // 2) does not match annotation",
    ),
    # sub-specs: their params are keys, their input shapes are checked against the caller's
    (
        "channel: channel, reduction: 4",
        "chanel: channel, reduction: 4",
        (34, 23),
        "E101",
        "unknown key 'chanel' in node 'inner' (use se); did you mean 'channel'?",
    ),
    (
        "channel: channel, reduction: 4",
        "reduction: 4",
        (34, 3),
        "E403",
        (
            "node 'inner': dim 1 of the value passed as 'x' is channel "
            "but SEAttention's input shape "
            "is 512"
        ),
    ),
]


@pytest.mark.parametrize("old, new, where, code, fragment", CASES,
                         ids=[c[4][:48] for c in CASES])
def test_mechanism_errors(tmp_path, capsys, old, new, where, code, fragment):
    assert BASE.count(old) == 1, old
    status, err = _check(tmp_path, capsys, BASE.replace(old, new))
    assert status == 1, err
    assert "Traceback" not in err
    head = err.splitlines()[0]
    assert head.startswith(f"{tmp_path / 'mech.yaml'}:{where[0]}:{where[1]}: error[{code}]: "), err
    assert fragment in head, err
