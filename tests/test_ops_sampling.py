"""grid_sample (ops/sampling.py) against torch: a map read at the points of a grid, in
every mode and padding, built and run equal to torch's own call; its shape is the
checker's at the sizes verify draws; wrong grids are located errors."""

from __future__ import annotations

import attngen
import pytest
from attngen import verify
from attngen.cli import main

torch = pytest.importorskip("torch")
F = torch.nn.functional

SPEC = """\
name: Sample
params:
  c: 3
inputs:
  x: [B, c, H, W]
  grid: GRID
graph:
  y: NODE
outputs: y
"""


def _spec(tmp_path, node: str, grid: str = "[B, h, w, 2]") -> str:
    path = tmp_path / "sample.yaml"
    path.write_text(SPEC.replace("NODE", node).replace("GRID", grid))
    return str(path)


@pytest.mark.parametrize("args, kwargs", [
    ("", {}),
    (", mode: nearest, padding_mode: border", {"mode": "nearest", "padding_mode": "border"}),
    (", mode: bicubic, align_corners: true", {"mode": "bicubic", "align_corners": True}),
    (", padding_mode: reflection", {"padding_mode": "reflection"}),
])
def test_grid_sample_is_torchs(tmp_path, args, kwargs):
    loaded = attngen.load(_spec(tmp_path, f"{{op: grid_sample, in: [x, grid]{args}, "
                                          "shape: [B, c, h, w]}"))
    x, grid = torch.randn(2, 3, 5, 7), torch.rand(2, 4, 6, 2) * 2.4 - 1.2  # some outside
    got = loaded.compile()()(x, grid)
    want = F.grid_sample(x, grid, **{"align_corners": False, **kwargs})
    torch.testing.assert_close(got, want)
    assert not verify.verify(loaded.checked, n_samples=3, export=False).errors


def test_align_corners_is_always_written(tmp_path):
    """torch warns where a call leaves align_corners out."""
    out = tmp_path / "out"
    assert main(["build", "--no-svg", "--no-cache", _spec(tmp_path, "{op: grid_sample, "
                 "in: [x, grid]}"), "-o", str(out)]) == 0
    assert "F.grid_sample(x, grid, align_corners=False)" in (out / "sample.py").read_text()


@pytest.mark.parametrize("node, grid, message", [
    ("{op: grid_sample, in: [x, grid]}", "[B, h, w, 3]",
     "E403]: node 'y': the grid's last dim (a point's coordinates) is 3 but the input's "
     "count of spatial dims is 2"),
    ("{op: grid_sample, in: [x, grid]}", "[N, h, w, 2]",
     "node 'y': the grid's batch (dim 0) is N but the input's batch is B"),
    ("{op: grid_sample, in: [x, grid]}", "[B, h, 2]", "grid_sample's grid (for a 4-D input) "
     "must have 4 dims, got 3"),
    ("{op: grid_sample, in: [x, grid], mode: cubic}", "[B, h, w, 2]",
     "E402]: argument 'mode' must be one of 'bilinear', 'nearest', 'bicubic'; did you mean "
     "'bicubic'?"),
])
def test_a_wrong_grid_is_a_located_error(tmp_path, capsys, node, grid, message):
    assert main(["check", _spec(tmp_path, node, grid)]) == 1
    assert message in capsys.readouterr().err


def test_dysample_equals_the_original_forward_and_trains_where_it_cannot():
    """The authors' DySample shuffles its 5-D sampling points as they are: the same
    forward as the generated module's rearrange (here, with the reference's weights), but
    its backward fails on CPU, where the generated module trains."""
    from equivalence import load_generated
    from references.dysample import DySample

    torch.manual_seed(0)
    reference = DySample(16, dyscope=True)
    module = load_generated("dysample").DySample(16, dyscope=True)
    module.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 16, 5, 6, requires_grad=True)

    def original_sample(x, offset):  # the authors' sample(), verbatim in its steps
        b, _, h, w = offset.shape
        offset = offset.view(b, 2, -1, h, w)
        coords = torch.stack(torch.meshgrid([torch.arange(w) + 0.5, torch.arange(h) + 0.5],
                                            indexing="ij")).transpose(1, 2)
        coords = coords.unsqueeze(1).unsqueeze(0).type(x.dtype)
        normalizer = torch.tensor([w, h], dtype=x.dtype).view(1, 2, 1, 1, 1)
        coords = F.pixel_shuffle(2 * (coords + offset) / normalizer - 1, 2).permute(
            0, 2, 3, 4, 1).contiguous().flatten(0, 1)
        return F.grid_sample(x.reshape(b * 4, -1, h, w), coords, mode="bilinear",
                             align_corners=False, padding_mode="border").view(b, -1, 2 * h, 2 * w)

    offset = reference.offset(x) * reference.scope(x).sigmoid() * 0.5 + reference.init_pos
    want = original_sample(x, offset)
    got = module(x)
    torch.testing.assert_close(got, want)
    with pytest.raises(RuntimeError, match="Unsupported memory format"):
        want.sum().backward()
    got.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
