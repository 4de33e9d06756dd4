"""The Fourier ops (ops/fft.py) against torch: each in a small spec, built and run at
concrete sizes, odd and even; its output shape must be the checker's there, its dtype the
family the checker gives, its values torch's own call; wrong uses are located errors."""

from __future__ import annotations

import attngen
import pytest
from attngen import verify
from attngen.cli import main

torch = pytest.importorskip("torch")

SPEC = """\
name: T
params:
  c: 3
  h: 6
inputs:
  x: {shape: [B, h, W, c], dtype: XDTYPE}
graph:
  y: NODE
outputs: y
"""


def built(tmp_path, node: str, xdtype: str = "float"):
    path = tmp_path / "t.yaml"
    path.write_text(SPEC.replace("NODE", node).replace("XDTYPE", xdtype))
    return attngen.load(str(path))


CASES = [  # node, input dtype, torch's own call of it
    ("{op: rfft2, in: x}", "float", lambda x: torch.fft.rfft2(x)),
    ("{op: rfft2, in: x, dim: [1, 2], norm: ortho}", "float",
     lambda x: torch.fft.rfft2(x, dim=(1, 2), norm="ortho")),
    ("{op: fft2, in: x, dim: [1, 2]}", "float", lambda x: torch.fft.fft2(x, dim=(1, 2))),
    ("{op: fft2, in: x, norm: forward}", "complex", lambda x: torch.fft.fft2(x, norm="forward")),
    ("{op: ifft2, in: x, dim: [-3, -2]}", "complex",
     lambda x: torch.fft.ifft2(x, dim=(-3, -2))),
    ("{op: irfft2, in: x, dim: [0, 1], s: [B, 2 * h - 2]}", "complex",
     lambda x: torch.fft.irfft2(x, s=(x.shape[0], 2 * x.shape[1] - 2), dim=(0, 1))),
    ("{op: view_as_real, in: x}", "complex", torch.view_as_real),
]


@pytest.mark.parametrize("node, xdtype, reference", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("width", [5, 8])
def test_an_fft_op_is_torchs(tmp_path, node, xdtype, reference, width):
    loaded = built(tmp_path, node, xdtype)
    dtype = torch.complex64 if xdtype == "complex" else torch.float32
    x = torch.randn(2, 6, width, 3, dtype=dtype)
    got = loaded.compile()()(x)
    want = reference(x)
    torch.testing.assert_close(got, want)
    assert loaded.checked.nodes["y"].output.dtype == ("complex" if got.is_complex()
                                                      else "float")
    # the checker's shape at sizes verify draws is the one torch gives there
    assert not verify.verify(loaded.checked, n_samples=3, export=False).errors


def test_irfft2_undoes_rfft2_at_the_sizes_it_is_given(tmp_path):
    path = tmp_path / "round.yaml"
    path.write_text("""\
name: RoundTrip
params:
  h: 7
inputs:
  x: [B, h, h, c]
graph:
  freq: {op: rfft2, in: x, dim: [1, 2], norm: ortho, shape: [B, h, h // 2 + 1, c]}
  back: {op: irfft2, in: freq, s: [h, h], dim: [1, 2], norm: ortho, shape: [B, h, h, c]}
outputs: back
""")
    module = attngen.load(str(path)).compile()()
    x = torch.randn(2, 7, 7, 5, dtype=torch.float64)
    torch.testing.assert_close(module(x), x)
    source = attngen.load(str(path)).source()
    assert "freq = torch.fft.rfft2(x, dim=(1, 2), norm='ortho')" in source
    assert "back = torch.fft.irfft2(freq, s=(self.h, self.h), dim=(1, 2), norm='ortho')" \
        in source


def test_a_complex_weight_from_a_float_parameter(tmp_path):
    path = tmp_path / "weight.yaml"
    path.write_text("""\
name: Weighted
params:
  c: 4
inputs:
  z: {shape: [B, c], dtype: complex}
graph:
  raw:    {param: [c, 2], init: normal, std: 0.02}
  weight: {op: view_as_complex, in: raw, shape: [c]}
  out:    {op: mul, in: [z, weight]}
outputs: out
""")
    module = attngen.load(str(path)).compile()()
    z = torch.randn(3, 4, dtype=torch.complex64)
    torch.testing.assert_close(module(z), z * torch.view_as_complex(module.raw))
    assert [n for n, _ in module.named_parameters()] == ["raw"]


@pytest.mark.parametrize("node, xdtype, message", [
    ("{op: rfft2, in: x, dim: [1, 2, 3]}", "float",
     "error[E402]: node 'y': 'dim' names 3 dims; a 2-D transform takes 2"),
    ("{op: fft2, in: x, dim: [1, -3]}", "float",
     "error[E402]: node 'y': 'dim' [1, -3] names one dim twice"),
    ("{op: rfft2, in: x}", "complex",
     "error[E402]: node 'y': rfft2 takes float tensors as input 0, not complex ones"),
    ("{op: irfft2, in: x, dim: [1, 2], s: [h, W]}", "complex",
     "node 'y': dim 2 of the input is W but s[1] // 2 + 1 (the half-spectrum of a signal of "
     "size s[1]) is 1 + (W // 2)"),
    ("{op: irfft2, in: x, s: [h]}", "complex",
     "error[E402]: node 'y': 's' has 1 sizes, one per dim of 'dim' (2)"),
    ("{op: view_as_complex, in: x}", "float",
     "node 'y': the last dim is c but 2 (real and imaginary parts)"),
    ("{op: rfft2, in: x, norm: half}", "float", "error[E402]"),
])
def test_a_wrong_use_is_a_located_error(tmp_path, capsys, node, xdtype, message):
    built_path = tmp_path / "t.yaml"
    built_path.write_text(SPEC.replace("NODE", node).replace("XDTYPE", xdtype))
    assert main(["check", "-q", str(built_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{built_path}:8:"), err
    assert message in err, err
    assert "Traceback" not in err
