"""conv1d and conv2d (ops/convolution.py), convolution by a weight tensor of the graph,
against torch's own calls: a bias or none, stride, padding, dilation and groups, and the
dynamic form (the batch folded into the channels, one group per sample) equal to one
convolution per sample; wrong weights are located errors. Also `slices:`, which
initialises each slice of a param on its own (CondConv's experts)."""

from __future__ import annotations

import attngen
import pytest
from attngen import verify
from attngen.cli import main

torch = pytest.importorskip("torch")
F = torch.nn.functional

SPEC = """\
name: Conv
params:
  c: 4
  o: 6
  g: 2
requires: REQUIRES
inputs:
  x: X
  w: WEIGHT
  b: [o]
graph:
  y: NODE
outputs: y
"""


def _spec(tmp_path, node: str, x: str = "[B, c, H, W]", weight: str = "[o, c // g, 3, 3]",
          requires: str = "[H >= 5, W >= 5]") -> str:
    path = tmp_path / "conv.yaml"
    path.write_text(SPEC.replace("NODE", node).replace("X", x).replace("WEIGHT", weight)
                    .replace("REQUIRES", requires))
    return str(path)


@pytest.mark.parametrize("node_args, kwargs", [
    ("", {}),
    (", stride: 2, padding: 1", {"stride": 2, "padding": 1}),
    (", padding: [2, 1], dilation: [2, 1], groups: 2",
     {"padding": (2, 1), "dilation": (2, 1), "groups": 2}),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_is_torchs(tmp_path, node_args, kwargs, bias):
    ins = "[x, w, b]" if bias else "[x, w]"
    groups = kwargs.get("groups", 1)
    loaded = attngen.load(_spec(tmp_path, f"{{op: conv2d, in: {ins}{node_args}}}",
                                weight=f"[o, c // {groups}, 3, 3]",
                                requires=f"[H >= 5, W >= 5, c % {groups} == 0, "
                                         f"o % {groups} == 0]"))
    x, w, b = torch.randn(2, 4, 7, 9), torch.randn(6, 4 // groups, 3, 3), torch.randn(6)
    got = loaded.compile()()(x, w, b)
    torch.testing.assert_close(got, F.conv2d(x, w, b if bias else None, **kwargs))
    assert not verify.verify(loaded.checked, n_samples=3, export=False).errors


def test_conv1d_is_torchs(tmp_path):
    loaded = attngen.load(_spec(tmp_path, "{op: conv1d, in: [x, w, b], padding: 1, stride: 2}",
                                x="[B, c, L]", weight="[o, c, 3]", requires="[L >= 3]"))
    x, w, b = torch.randn(3, 4, 10), torch.randn(6, 4, 3), torch.randn(6)
    torch.testing.assert_close(loaded.compile()()(x, w, b), F.conv1d(x, w, b, padding=1,
                                                                      stride=2))


DYNAMIC = """\
name: Dynamic
params:
  c: 4
  o: 6
  k: 3
requires: [k % 2 == 1]
inputs:
  x: [B, c, H, W]
  w: [B, o, c, k, k]
  b: [B, o]
graph:
  xs: {op: view, in: x, to: [1, B * c, H, W], shape: [1, B * c, H, W]}
  ws: {op: reshape, in: w, to: [B * o, c, k, k], shape: [B * o, c, k, k]}
  bs: {op: reshape, in: b, to: [B * o], shape: [B * o]}
  y:  {op: conv2d, in: [xs, ws, bs], padding: k // 2, groups: B, shape: [1, B * o, H, W]}
  out: {op: view, in: y, to: [B, o, H, W], shape: [B, o, H, W]}
outputs: out
"""


def test_a_kernel_per_sample_is_one_grouped_call(tmp_path):
    """groups: B, an input dim: each sample convolved with its own kernel and bias."""
    path = tmp_path / "dynamic.yaml"
    path.write_text(DYNAMIC)
    loaded = attngen.load(str(path))
    x, w, b = torch.randn(3, 4, 5, 7), torch.randn(3, 6, 4, 3, 3), torch.randn(3, 6)
    want = torch.cat([F.conv2d(x[i:i + 1], w[i], b[i], padding=1) for i in range(3)])
    torch.testing.assert_close(loaded.compile()()(x, w, b), want)
    assert "F.conv2d(xs, ws, bs, padding=self.k // 2, groups=B)" in loaded.source()
    assert not verify.verify(loaded.checked, n_samples=4, export=False).errors


@pytest.mark.parametrize("node, weight, message", [
    ("{op: conv2d, in: [x, w]}", "[o, c + 1, 3, 3]",
     "node 'y': the weight's dim 1 is 1 + c but the input channels / groups is c"),
    ("{op: conv2d, in: [x, w, b]}", "[o + 1, c, 3, 3]",
     "node 'y': the bias's size is o but the weight's dim 0 (the output channels) is 1 + o"),
    ("{op: conv2d, in: [x, w], groups: 3}", "[o, c, 3, 3]",
     "groups (the input channels split into groups)"),
    ("{op: conv2d, in: [x, w]}", "[o, c, 3]",
     "conv2d's weight ([C_out, C_in / groups, *kernel]) must have 4 dims, got 3"),
    ("{op: conv2d, in: [x, w], padding: [1, 1, 1]}", "[o, c, 3, 3]",
     "'padding' has 3 values for 2 spatial dim(s)"),
])
def test_a_wrong_weight_is_a_located_error(tmp_path, capsys, node, weight, message):
    assert main(["check", _spec(tmp_path, node, weight=weight)]) == 1
    err = capsys.readouterr().err
    assert "conv.yaml:12:" in err and message in err, err


SLICED = """\
name: Experts
params:
  K: 4
  o: 6
  c: 3
inputs:
  x: [B, c]
graph:
  weight: {param: [K, o, c, 3, 3], init: INIT, unused: true}
  out: {op: add, in: [x, x], shape: [B, c]}
outputs: out
"""


def test_slices_initialise_each_slice_on_its_own(tmp_path):
    """`slices: 1`: kaiming_uniform with a slice's fans (c * 9), not the whole tensor's (o * c
    * 9), as CondConv's `for i in range(K): kaiming_uniform_(weight[i])`."""
    path = tmp_path / "experts.yaml"
    path.write_text(SLICED.replace("INIT", "kaiming_uniform, slices: 1"))
    loaded = attngen.load(str(path))
    assert "for _part in self.weight:" in loaded.source()
    torch.manual_seed(0)
    got = loaded.compile()().weight.detach()
    torch.manual_seed(0)
    want = torch.empty(4, 6, 3, 3, 3)
    for i in range(4):
        torch.nn.init.kaiming_uniform_(want[i])
    assert torch.equal(got, want)
    assert got.abs().max() > (6 / (6 * 3 * 9)) ** 0.5  # beyond the whole tensor's bound


def test_slices_over_two_dims(tmp_path):
    path = tmp_path / "experts.yaml"
    path.write_text(SLICED.replace("INIT", "xavier_normal, slices: 2"))
    loaded = attngen.load(str(path))
    assert "for _part in self.weight.flatten(0, 1):" in loaded.source()
    torch.manual_seed(1)
    got = loaded.compile()().weight.detach()
    torch.manual_seed(1)
    want = torch.empty(4, 6, 3, 3, 3)
    for part in want.flatten(0, 1):
        torch.nn.init.xavier_normal_(part)
    assert torch.equal(got, want)


@pytest.mark.parametrize("init, message", [
    ("kaiming_uniform, slices: 0", "'slices' of param 'weight' must be a whole number of "
                                   "leading dims, at least 1, got 0"),
    ("kaiming_uniform, slices: true", "at least 1, got true"),
    ("kaiming_uniform, slices: 4", "'slices: 4' leaves each slice of param 'weight' 1 dim(s); "
                                   "init: kaiming_uniform reads the fans of two or more"),
    ("normal, slices: 1", "'slices' of param 'weight' applies only to init: xavier_uniform or "
                          "xavier_normal or kaiming_normal or kaiming_uniform"),
])
def test_wrong_slices_are_located_errors(tmp_path, capsys, init, message):
    path = tmp_path / "experts.yaml"
    path.write_text(SLICED.replace("INIT", init))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "experts.yaml:9:" in err and "E102" in err and message in err, err
    if "slices: 4" in init:
        assert "note: slice fewer dims: slices: 3" in err


def test_the_librarys_cond_conv_runs_where_the_original_cannot():
    """CondConv at stride 2 without padding (the original views its output at the input's
    size and fails there): each sample convolved with its routing's mixture of the experts."""
    from equivalence import load_generated

    module = load_generated("cond_conv").CondConv(8, 6, 3, 2, K=3).double().eval()
    x = torch.randn(3, 8, 9, 7, dtype=torch.float64)
    routing = module.attention(x)  # (3, K)
    want = torch.cat([
        F.conv2d(x[i:i + 1], torch.einsum("k,koihw->oihw", routing[i], module.weight),
                 routing[i] @ module.bias, stride=2) for i in range(3)])
    got = module(x)
    assert got.shape == (3, 6, 4, 3)
    torch.testing.assert_close(got, want)


def test_slices_loop_leaves_a_param_named_part_alone(tmp_path):
    """The loop's variable is no name a param may have: a param `part` sizes the next
    layer after the loop as given."""
    path = tmp_path / "parts.yaml"
    path.write_text(
        "name: Parts\nparams:\n  K: 3\n  part: 4\ninputs:\n  x: [B, part]\ngraph:\n"
        "  w: {param: [K, part, part], init: kaiming_uniform, slices: 1}\n"
        "  fc: {op: Linear, args: [part, part], in: x}\n"
        "  y: {op: einsum, in: [fc, w], equation: 'bc,kcd->bd'}\noutputs: y\n")
    module = attngen.load(str(path)).compile()()
    assert module.fc.in_features == 4 and module(torch.randn(2, 4)).shape == (2, 4)
