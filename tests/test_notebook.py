"""Notebook display (issue 15): a loaded spec shows its diagram inline, the compiled class
its shapes in its docstring."""
import attngen
import pytest
from attngen import render


def test_a_loaded_spec_shows_its_diagram_as_svg():
    cbam = attngen.load("cbam")
    svg = cbam._repr_svg_()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and svg.rstrip().endswith("</svg>")
    assert "ChannelAttention" in svg and svg == cbam.svg()
    bundle = cbam._repr_mimebundle_()
    assert bundle == {"text/plain": repr(cbam), "image/svg+xml": svg}


def test_without_a_renderer_the_display_falls_back_to_text(monkeypatch):
    def fail(*args, **kwargs):
        raise render.RenderError("no renderer")

    monkeypatch.setattr(attngen, "render_dot", fail)
    se = attngen.load("se")
    assert se._repr_svg_() is None
    assert se._repr_mimebundle_() == {"text/plain": repr(se)}


@pytest.mark.parametrize(("name", "lines"), [
    ("cbam", ["x: (B, in_planes, H, W)", "returns result: (B, in_planes, H, W)"]),
    ("sdpa", ["queries: (B, nq, d_model)", "attention_mask (optional): (B, h, nq, nk)",
              "returns fc_o: (B, nq, d_model)"]),
])
def test_the_compiled_class_docstring_shows_its_shapes(name, lines):
    doc = attngen.compile(name).__doc__
    shapes = doc.split("Shapes:", 1)[1]
    for line in lines:
        assert line in shapes
    assert "device, dtype (keyword-only, default None)" in doc
