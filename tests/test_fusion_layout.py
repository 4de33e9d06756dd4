"""Fused attention over tensors whose features the graph leaves strided (fusion.py's
`copies`, strides.unit_last): a non-local block's queries and values are permuted conv
outputs and its keys a conv output read as [..., E, S], so every one of them reaches
PyTorch's fused call with a last dim of stride n, and PyTorch would run its math kernel.
The call copies exactly those contiguous; where the graph does not decide a layout (an
input's, a chunk's), nothing is copied and `verify` tells (W101)."""

from __future__ import annotations

import attngen
import pytest
from attngen.strides import strided_tensors, unit_last
from conftest import REPO_ROOT
from test_kernel_check import report_of

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# the embedded-Gaussian non-local block (Wang et al. 2018) without its norm: 1x1 convs
# make queries, keys and values by channel; attention over the H * W positions
NON_LOCAL = """\
name: NonLocal
params:
  channels: 64
  inter: 32
inputs:
  x: [B, channels, H, W]
graph:
  theta:  {op: Conv2d, args: [channels, inter, 1], in: x}
  phi:    {op: Conv2d, args: [channels, inter, 1], in: x}
  g:      {op: Conv2d, args: [channels, inter, 1], in: x}
  q_flat: {op: flatten, in: theta, start_dim: 2}
  q:      {op: permute, in: q_flat, dims: [0, 2, 1], shape: [B, H * W, inter]}
  k:      {op: flatten, in: phi, start_dim: 2, shape: [B, inter, H * W]}
  v_flat: {op: flatten, in: g, start_dim: 2}
  v:      {op: permute, in: v_flat, dims: [0, 2, 1]}
  scores: {op: matmul, in: [q, k]}
  probs:  {op: softmax, in: scores, dim: -1}
  y:      {op: matmul, in: [probs, v], shape: [B, H * W, inter]}
  y_t:    {op: permute, in: y, dims: [0, 2, 1]}
  y_map:  {op: reshape, in: y_t, to: [B, inter, H, W]}
  w:      {op: Conv2d, args: [inter, channels, 1], in: y_map}
  out:    {op: add, in: [w, x]}
outputs: out
"""


class NonLocal(torch.nn.Module):
    """NON_LOCAL by hand, as such blocks are written."""

    def __init__(self, channels: int, inter: int) -> None:
        super().__init__()
        self.theta = torch.nn.Conv2d(channels, inter, 1)
        self.phi = torch.nn.Conv2d(channels, inter, 1)
        self.g = torch.nn.Conv2d(channels, inter, 1)
        self.w = torch.nn.Conv2d(inter, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.theta(x).flatten(2).permute(0, 2, 1)
        k = self.phi(x).flatten(2)
        v = self.g(x).flatten(2).permute(0, 2, 1)
        y = torch.softmax(q @ k, dim=-1) @ v
        return self.w(y.permute(0, 2, 1).reshape(b, -1, h, w)) + x


def load(tmp_path, text: str = NON_LOCAL, name: str = "non_local.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return attngen.load(str(path))


def test_the_call_copies_queries_keys_and_values_the_graph_made_strided(tmp_path):
    source = load(tmp_path).source()
    assert "# queries, keys and values copied: PyTorch's fused kernels read features " \
           "contiguous" in source
    assert "q.contiguous().unsqueeze(0)" in source
    assert "k.transpose(-2, -1).contiguous().unsqueeze(0)" in source
    assert "v.contiguous().unsqueeze(0)" in source


def test_copied_it_equals_the_written_form_and_the_hand_written_block(tmp_path):
    loaded = load(tmp_path)
    torch.manual_seed(0)
    ref = NonLocal(8, 4).double()
    fused, plain = (cls(8, 4, dtype=torch.float64)
                    for cls in (loaded.compile(), loaded.compile(fuse=False)))
    for module in (fused, plain):
        module.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 8, 5, 3, dtype=torch.float64)
    results = []
    for module in (ref, fused, plain):
        xi = x.clone().requires_grad_()
        out = module(xi)
        out.square().sum().backward()
        results.append((out.detach(), xi.grad))
    for out, grad in results[1:]:
        torch.testing.assert_close(out, results[0][0], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(grad, results[0][1], rtol=1e-10, atol=1e-10)


def test_copied_its_call_runs_pytorchs_fused_kernel(tmp_path):
    report = report_of(tmp_path, NON_LOCAL, "non_local.yaml")
    assert not report.warnings
    assert report.lines[-1].endswith(": 1 ran a fused kernel")


def test_heads_split_from_a_linear_are_not_copied():
    # the notes' multi-head attention: q and v (B, h, n, d) and k (B, h, d, n) are permuted
    # views whose transposes PyTorch reads as they are
    source = (REPO_ROOT / "generated" / "sdpa.py").read_text()
    assert "F.scaled_dot_product_attention(" in source and ".contiguous()" not in source


# keys and values from one tensor by chunks (views): their layout is not followed, so the
# call copies nothing and `verify` warns
CHUNKED = """\
name: Chunked
params:
  d: 8
inputs:
  q: [B, N, d]
  kv: [B, 2 * d, N]
graph:
  parts:  {op: chunk, in: kv, chunks: 2, dim: 1, out: [k, v_t]}
  v:      {op: transpose, in: v_t, dim0: 1, dim1: 2}
  scores: {op: matmul, in: [q, k]}
  probs:  {op: softmax, in: scores, dim: -1}
  out:    {op: matmul, in: [probs, v]}
outputs: out
"""


def test_a_layout_the_graph_does_not_decide_is_not_copied_and_verify_warns(tmp_path):
    source = load(tmp_path, CHUNKED, "chunked.yaml").source()
    assert "F.scaled_dot_product_attention(" in source and ".contiguous()" not in source
    [warning] = report_of(tmp_path, CHUNKED, "chunked.yaml").warnings
    assert "the keys' last dim has stride" in warning.message
    assert "the values' last dim has stride" in warning.message


@pytest.mark.parametrize("name, transposed, inputs, expected", [
    ("theta", False, False, True),   # a conv's output, inputs taken as contiguous
    ("theta", True, False, False),
    ("theta", False, True, None),   # inputs of any layout: a conv keeps theirs
    ("k", True, False, False),      # the keys as the scores read them, transposed
    ("q", False, False, False),     # (B, inter, n) permuted to (B, n, inter)
    ("q", True, False, True),
    ("y_t", False, False, False),
    ("x", False, True, None),       # an input: its caller's layout
])
def test_unit_last(tmp_path, name, transposed, inputs, expected):
    checked = load(tmp_path).checked
    spec = checked.spec
    strided = strided_tensors(spec, checked.order, inputs=inputs)
    rank = len(checked.value(name))
    assert unit_last(spec, name, strided, rank, transposed) is expected
