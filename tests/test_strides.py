"""Memory layout (strides.py): which views merge dims, which tensors may be strided, and
the ops declared to make contiguous tensors, held to what torch does."""

import textwrap

import pytest
import sympy
from attngen import emit, ops, strides, verify
from attngen.build import compile_spec
from attngen.loader import Loader

pytestmark = pytest.mark.usefixtures("one_torch_thread")

B, C, H, W, h = sympy.symbols("B C H W h", integer=True, positive=True)


def _equal(a, b) -> bool:
    return sympy.expand(a - b) == 0


@pytest.mark.parametrize("source, target, merged", [
    ((B, C, H, W), (B, C, H * W), True),
    ((B, C, H, W), (B, C, H, W), False),
    ((B, h * C, H), (B, h, C, H), False),  # a split
    ((B, C, 1, 1), (B, C), False),  # size-1 dims dropped
    ((B, C), (B, 1, C, 1), False),  # and added
    ((B, C, H), (B * C, H), True),
    ((B, C, H), (C, B, H), True),  # same sizes, not a split: unproven, so a merge
    ((B, C), (B, C, 1, 2), True),  # element counts differ: never a split
])
def test_a_view_merges_unless_every_dim_splits(source, target, merged):
    assert strides.merges(source, target, _equal) is merged


def _checked(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return compile_spec(path, Loader(), {})


def test_strided_tensors_follow_the_declared_layouts(tmp_path):
    checked = _checked(tmp_path, """\
        name: Chain
        params:
          c: {default: 4}
        inputs:
          x: [B, L, c]
        graph:
          lin: {op: Linear, args: [c, 3], in: x}
          act: {op: relu, in: lin}
          t: {op: transpose, in: act, dim0: 1, dim1: 2}
          act2: {op: sigmoid, in: t}
          red: {op: mean, in: act2, dim: 1}
          out: {op: add, in: [red, red]}
        outputs: out
        """)
    spec = checked.spec
    assert strides.strided_tensors(spec, checked.order) == {"x", "t", "act2"}
    assert strides.strided_tensors(spec, checked.order, inputs=False) == {"t", "act2"}


# Every op declared fresh, on a tensor whose strides are not contiguous (a channels-last
# `t`, a transposed `u`), then viewed flat: the view stays `.view`, and torch must take it.
FRESH = {
    "Linear": "{op: Linear, args: [4, 3], in: u}",
    "LayerNorm": "{op: LayerNorm, args: [4], in: u}",
    "matmul": "{op: matmul, in: [u, s]}",
    "contiguous": "{op: contiguous, in: t}",
    "mean": "{op: mean, in: t, dim: 1}",
    "sum": "{op: sum, in: t, dim: [1, 3], keepdim: true}",
    "max": "{op: max, in: t, dim: 1}",
    "min": "{op: min, in: t, dim: 3, keepdim: true}",
    "amax": "{op: amax, in: t, dim: [1, 2]}",
    "amin": "{op: amin, in: t, dim: 1}",
    "std": "{op: std, in: t, dim: 1}",
    "var": "{op: var, in: t, dim: [1, 3], keepdim: true}",
    "norm": "{op: norm, in: t, dim: 1}",
    "logsumexp": "{op: logsumexp, in: t, dim: 1}",
    "zeros": "{op: zeros, in: t, size: [2, 3]}",
    "ones": "{op: ones, in: t, size: [2, 3]}",
    "full": "{op: full, in: t, size: [2, 3], fill_value: 1.0}",
    "tensor": "{op: tensor, in: t, data: [1.0, 2.0]}",
    "arange": "{op: arange, in: t, end: 5}",
    "linspace": "{op: linspace, in: t, steps: 5}",
    "eye": "{op: eye, in: t, n: 3}",
    "unfold": "{op: unfold, in: t, kernel_size: 1}",
    "Unfold": "{op: Unfold, args: [1], in: t}",
    "fold": "{op: fold, in: u, output_size: [2, 2], kernel_size: 1}",
    "Fold": "{op: Fold, args: [[2, 2], 1], in: u}",
    # graph lines that make `y` (an op of several outputs, an op that reads one of them)
    "topk": ["top: {op: topk, in: t, k: 2, dim: 1, out: [y, y_index]}"],
    "gather": ["top: {op: topk, in: t, k: 1, dim: 1, out: [t_top, t_index]}",
               "y: {op: gather, in: [t, t_index], dim: 1}"],
    "Embedding": ["top: {op: topk, in: t, k: 2, dim: 1, out: [t_top, t_index]}",
                  "y: {op: Embedding, args: [c, 3], in: t_index}"],
    "grid_sample": ["pair: {op: slice, in: t, dim: 1, start: 0, stop: 2}",
                    "grid: {op: permute, in: pair, dims: [0, 2, 3, 1]}",
                    "y: {op: grid_sample, in: [t, grid]}"],
}


def test_the_table_covers_every_op_declared_fresh():
    declared = {name for name, op in ops.REGISTRY.items()
                if op.layout == ops.FRESH and op.source == ops.BUILTIN}
    assert declared == set(FRESH)


@pytest.mark.parametrize("name", sorted(FRESH))
def test_an_op_declared_fresh_makes_a_tensor_torch_can_view(tmp_path, name):
    lines = FRESH[name] if isinstance(FRESH[name], list) else [f"y: {FRESH[name]}"]
    node = "\n          ".join(lines)
    if "in: t" in node:  # channels-last
        made = "x: [B, H, W, c]", "t: {op: permute, in: x, dims: [0, 3, 1, 2]}"
    else:  # transposed
        made = "s: [B, 4, c]", "u: {op: permute, in: s, dims: [0, 2, 1]}"
    checked = _checked(tmp_path, f"""\
        name: Fresh
        params:
          c: {{default: 4}}
        inputs:
          {made[0]}
        graph:
          {made[1]}
          {node}
          flat: {{op: view, in: y, to: [-1]}}
        outputs: flat
        """)
    assert "flat = y.view(-1)" in emit.render(checked)
    report = verify.verify(checked, n_samples=2, export=False)
    assert not report.errors, "\n".join(d.format() for d in report.errors)
