"""Transposed convolution, pixel (un)shuffle (ops/resolution.py), the activations with
arguments (LeakyReLU, ELU, Softplus, GELU's approximate, PReLU's learned slopes, and their
functional forms), RMSNorm, normalize, avg_pool2d and detach against torch: each in a
small spec, built and run; its output is torch's own layer's or call's with the same
weights, its shape the checker's at the sizes verify draws, its parameter count torch's;
wrong uses are located errors whose fixes work when pasted."""

from __future__ import annotations

import attngen
import pytest
from attngen import counts, verify
from attngen.cli import main

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional

SPEC = """\
name: T
params:
  c: 8
REQUIRES
inputs:
  x: [B, c, H, W]
graph:
  y: NODE
outputs: y
"""


def built(tmp_path, node: str, requires: str = ""):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("NODE", node).replace("REQUIRES", requires))
    return attngen.load(str(path))


CASES = [  # node, torch's own layer (its state_dict loaded from the generated one) or call
    ("{op: ConvTranspose2d, args: [c, 4, 4], stride: 2, padding: 1}",
     lambda: nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)),
    ("{op: ConvTranspose2d, args: [c, 6, 3], stride: [2, 3], output_padding: [1, 2], "
     "groups: 2, dilation: 1, bias: false}",
     lambda: nn.ConvTranspose2d(8, 6, 3, stride=(2, 3), output_padding=(1, 2), groups=2,
                                bias=False)),
    ("{op: ConvTranspose2d, args: [c, c, 3], dilation: 2, output_padding: 1}",
     lambda: nn.ConvTranspose2d(8, 8, 3, dilation=2, output_padding=1)),
    ("{op: PixelShuffle, args: [2]}", lambda: nn.PixelShuffle(2)),
    ("{op: PixelUnshuffle, args: [2]}", lambda: nn.PixelUnshuffle(2)),
    ("{op: PReLU}", lambda: nn.PReLU()),
    ("{op: PReLU, num_parameters: c, init: 0.1}", lambda: nn.PReLU(8, init=0.1)),
    ("{op: LeakyReLU, negative_slope: 0.1}", lambda: nn.LeakyReLU(0.1)),
    ("{op: ELU, alpha: 0.5}", lambda: nn.ELU(0.5)),
    ("{op: SELU}", lambda: nn.SELU()),
    ("{op: Mish}", lambda: nn.Mish()),
    ("{op: Softplus, beta: 2.0, threshold: 1.0}", lambda: nn.Softplus(2.0, 1.0)),
    ("{op: GELU, approximate: tanh}", lambda: nn.GELU(approximate="tanh")),
    ("{op: gelu, approximate: tanh}", lambda: lambda x: F.gelu(x, approximate="tanh")),
    ("{op: gelu}", lambda: F.gelu),
    ("{op: silu}", lambda: F.silu),
    ("{op: mish}", lambda: F.mish),
    ("{op: leaky_relu, negative_slope: 0.2}", lambda: lambda x: F.leaky_relu(x, 0.2)),
    ("{op: elu, alpha: 2.0}", lambda: lambda x: F.elu(x, 2.0)),
    ("{op: softplus, beta: 0.5}", lambda: lambda x: F.softplus(x, beta=0.5)),
    ("{op: avg_pool2d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, "
     "count_include_pad: false}",
     lambda: lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                    count_include_pad=False)),
    ("{op: detach}", lambda: lambda x: x.detach()),
    ("{op: normalize}", lambda: F.normalize),
    ("{op: normalize, dim: -1, p: 1.0}", lambda: lambda x: F.normalize(x, p=1.0, dim=-1)),
]


@pytest.mark.parametrize("node, reference", CASES, ids=[c[0] for c in CASES])
def test_a_new_op_is_torchs(tmp_path, node, reference):
    loaded = built(tmp_path, node.replace("}", ", in: x}"),
                   "requires: [H % 2 == 0, W % 2 == 0, c % 4 == 0]")
    torch.manual_seed(0)
    module = loaded.compile()()
    want = reference()
    if isinstance(want, nn.Module):
        own = module.y.state_dict()
        want.load_state_dict(own, strict=True)  # the same parameters, by the same names
        assert counts.total(loaded.checked.spec) == sum(p.numel() for p in want.parameters())
    x = torch.randn(2, 8, 6, 4)
    torch.testing.assert_close(module(x), want(x))
    # the checker's shape at the sizes verify draws is the one torch gives there
    assert not verify.verify(loaded.checked, n_samples=4, export=False).errors


@pytest.mark.parametrize("node, reference", [
    ("{op: RMSNorm, args: [c], in: x}", lambda: nn.RMSNorm(8)),
    ("{op: RMSNorm, args: [[n, c]], eps: 0.001, in: x}", lambda: nn.RMSNorm((5, 8), eps=0.001)),
    ("{op: RMSNorm, args: [c], elementwise_affine: false, in: x}",
     lambda: nn.RMSNorm(8, elementwise_affine=False)),
])
def test_rms_norm_is_torchs(tmp_path, node, reference):
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC.replace("x: [B, c, H, W]", "x: [B, n, c]").replace("REQUIRES", "")
                    .replace("  c: 8\n", "  c: 8\n  n: 5\n").replace("NODE", node))
    loaded = attngen.load(str(spec))
    module, want = loaded.compile()(), reference()
    want.load_state_dict(module.y.state_dict(), strict=True)
    assert counts.total(loaded.checked.spec) == sum(p.numel() for p in want.parameters())
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(module(x), want(x))


def test_conv_transpose_1d_and_its_output_size(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text(SPEC.replace("x: [B, c, H, W]", "x: [B, c, L]").replace("REQUIRES", "")
                    .replace("NODE", "{op: ConvTranspose1d, args: [c, 3, 5], stride: 3, "
                                     "padding: 2, output_padding: 1, in: x, "
                                     "shape: [B, 3, 3 * L - 1]}"))
    loaded = attngen.load(str(spec))
    out = loaded.compile()()(torch.randn(2, 8, 7))
    assert out.shape == (2, 3, 20)
    assert not verify.verify(loaded.checked, n_samples=4, export=False).errors


def _errors(tmp_path, capsys, node: str, requires: str = "") -> str:
    (tmp_path / "t.yaml").write_text(SPEC.replace("NODE", node).replace("REQUIRES", requires))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    return capsys.readouterr().err


def test_output_padding_must_be_below_stride_or_dilation(tmp_path, capsys):
    err = _errors(tmp_path, capsys, "{op: ConvTranspose2d, args: [c, c, 3], stride: 2, "
                                    "output_padding: 2, in: x}")
    assert "error[E402]" in err
    assert "output_padding 2 must be smaller than stride 2 or dilation 1" in err


def test_an_output_below_one_asks_for_the_requires_line_that_keeps_it(tmp_path, capsys):
    node = "{op: ConvTranspose2d, args: [c, c, 1], padding: 1, in: x}"
    err = _errors(tmp_path, capsys, node)
    assert "error[E404]" in err and "state them: requires: [H >= 3, W >= 3]" in err
    (tmp_path / "t.yaml").write_text(SPEC.replace("NODE", node)
                                     .replace("REQUIRES", "requires: [H >= 3, W >= 3]"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 0  # the line pasted: it checks


def test_pixel_shuffle_asks_for_the_divisibility_it_needs(tmp_path, capsys):
    node = "{op: PixelShuffle, args: [r], in: x}"
    spec = SPEC.replace("  c: 8\n", "  c: 8\n  r: 2\n")
    (tmp_path / "t.yaml").write_text(spec.replace("NODE", node).replace("REQUIRES", ""))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E404]" in err and "c is not always divisible by r**2" in err
    line = next(n for n in err.splitlines() if "state it: requires:" in n)
    fix = line.split("state it: ")[1]
    (tmp_path / "t.yaml").write_text(spec.replace("NODE", node).replace("REQUIRES", fix))
    assert main(["check", str(tmp_path / "t.yaml")]) == 0


def test_prelu_slopes_are_one_or_one_per_channel(tmp_path, capsys):
    err = _errors(tmp_path, capsys, "{op: PReLU, num_parameters: 3, in: x}")
    assert "error[E403]" in err and "channels (dim 1) is c but num_parameters is 3" in err


def test_numbers_that_do_not_divide_are_a_wrong_argument_not_a_requires_line(tmp_path, capsys):
    """6 channels in 4 groups: no `requires` line can fix it (it once suggested
    `requires: [3 % 2 == 0]`)."""
    for op in ("Conv2d", "ConvTranspose2d"):
        err = _errors(tmp_path, capsys, f"{{op: {op}, args: [c, 6, 1], groups: 4, in: x}}")
        assert "error[E402]" in err, err
        assert "out_channels must be divisible by groups: 6 is not divisible by 4" in err
        assert "requires: [3" not in err
