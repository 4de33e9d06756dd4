"""The shape comments over forward lines (shape_comments.py) where configurations differ: a
case shows the shapes of a configuration that takes it, and a node whose shapes differ
between configurations and are not written (`shape:`) shows none."""

from __future__ import annotations

import attngen

SPEC = """\
name: Axis
params:
  axis: {default: 0, choices: [0, 1]}
inputs:
  x: [B, H, W, C]
graph:
  tokens:
    cases:
      - {when: axis == 0, op: rearrange, in: x, pattern: 'b h w c -> (b w) h c'}
      - {when: axis == 1, op: rearrange, in: x, pattern: 'b h w c -> (b h) w c'}
  doubled: {op: mul, in: tokens, other: 2.0}
  summed: {op: sum, in: doubled, dim: 1}
outputs: summed
"""


def forward(tmp_path) -> str:
    path = tmp_path / "axis.yaml"
    path.write_text(SPEC)
    return attngen.load(str(path)).source().split("def forward")[1]


def test_each_case_shows_its_own_shapes(tmp_path):
    source = forward(tmp_path)  # the two cases, in their order, over one expression
    assert ("# (B, H, W, C) -> (B*W, H, C)\n        # (B, H, W, C) -> (B*H, W, C)\n"
            "        tokens = x.transpose(1, 2).flatten(0, 1) if self.axis == 0 else "
            "x.flatten(0, 1)") in source, source


def test_a_node_whose_shapes_differ_by_configuration_shows_none(tmp_path):
    """`summed` is (B*W, H, C) -> (B*W, C) at axis 0 and (B*H, W, C) -> (B*H, C) at axis 1:
    one configuration's shapes would be wrong for the other."""
    source = forward(tmp_path)
    assert "summed = doubled.sum(1)" in source, source
    assert "->" not in source.split("summed = ")[0].rsplit("\n", 2)[-2], source


KEPT = """\
name: Kept
params:
  size: {type: list, default: [7, 7]}
  mode: {default: a, choices: [a, b]}
let:
  n: size[0] * size[1]
inputs:
  x: [B, n, C]
  y: [B, n, C]
graph:
  scaled: {op: mul, in: x, other: 0.5}
  y_t: {op: transpose, in: y, dim0: 1, dim1: 2, shape: [B, C, n]}
  scores: {op: matmul, in: [scaled, y_t], shape: [B, n, n]}
  shifted:
    cases:
      - {when: mode == 'a', op: add, in: [scores, scores]}
      - {when: mode == 'b', op: mul, in: scores, other: 2.0}
  out: {op: matmul, in: [shifted, x], shape: [B, n, C]}
outputs: out
"""


def test_an_input_that_keeps_a_written_shape_shows_it_not_a_configurations_numbers(tmp_path):
    """`scaled` writes no shape but has `x`'s in every configuration: the matmul's comment
    shows `n`, not 49 (the default list's count); so does the last, after a `cases` node
    each of whose cases has `scores`' shape."""
    path = tmp_path / "kept.yaml"
    path.write_text(KEPT)
    source = attngen.load(str(path)).source().split("def forward")[1]
    assert "# (B, n, C), (B, C, n) -> (B, n, n)\n" in source, source
    assert "# (B, n, n), (B, n, C) -> (B, n, C)\n" in source, source
    assert "49" not in source, source
