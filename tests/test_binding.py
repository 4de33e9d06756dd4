"""Channel binding (issue 15): which params are sizes of the first input's dims, derived
from the spec's shapes or declared with `binds:`."""
import textwrap

import attngen
import pytest
from attngen.errors import UNKNOWN_NAME

# spec -> (the params the channels determine, channel-preserving, params bound elsewhere)
LIBRARY = {
    "se": (["channel"], True, {}),
    "cbam": (["in_planes"], True, {}),
    "eca": ([], True, {}),
    "sk": (["channel"], True, {}),
    "coordatt": (["inp", "oup"], True, {}),
    "cot": (["dim"], True, {}),
    "triplet": ([], True, {}),
    "danet": (["d_model"], False, {"H": 2, "W": 3}),
    "channel_attention": (["in_planes"], False, {}),  # gives [B, C, 1, 1]
    "spatial_attention": ([], False, {}),
    "sdpa": ([], False, {"d_model": 2}),
    "asff": ([], False, {}),  # a list input
    "variants/eca_adaptive": (["channel"], True, {}),
}


@pytest.mark.parametrize("name", LIBRARY)
def test_library_binding_is_read_from_the_shapes(name):
    from conftest import REPO_ROOT

    channels, preserving, others = LIBRARY[name]
    b = attngen.load(REPO_ROOT / "specs" / f"{name}.yaml").binding
    assert (b.channels, b.channel_preserving(), b.others) == (channels, preserving, others)
    assert not b.declared


SPEC = """\
    name: Adaptive
    params:
      channel: {type: int, example: 64}
      gamma: 2
    inputs:
      x: [B, C, H, W]
    graph:
      gap: {op: AdaptiveAvgPool2d, args: [1], in: x}
      w: {op: Sigmoid, in: gap}
      out: {op: mul, in: [x, w]}
    outputs: out
"""


def _write(tmp_path, text):
    path = tmp_path / "adaptive.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_binds_declares_what_the_shapes_cannot_say(tmp_path):
    plain = attngen.load(_write(tmp_path, SPEC)).binding
    assert plain.channels == [] and plain.channel_preserving()
    declared = attngen.load(_write(tmp_path, SPEC + "    binds: {channel: C}\n")).binding
    assert declared.channels == ["channel"] and declared.declared == {"channel"}
    assert declared.channel_preserving() and "channel = x.shape[1] (binds)" in declared.describe()


@pytest.mark.parametrize(("binds", "message"), [
    ("{gamma_: C}", "binds: 'gamma_' is not an int param; did you mean 'gamma'?"),
    ("{channel: D}", "binds: 'D' is not a dim of the first input that no param or let names"),
    ("{channel: Cx}", "(first input: x [B, C, H, W]); did you mean 'C'?"),
])
def test_a_wrong_binding_is_a_located_error(tmp_path, binds, message):
    path = _write(tmp_path, SPEC + f"    binds: {binds}\n")
    with pytest.raises(attngen.SpecError) as info:
        attngen.load(path)
    (diag,) = info.value.diagnostics
    assert diag.code == UNKNOWN_NAME and message in diag.message
    assert diag.loc.line == 12 and diag.loc.file.endswith("adaptive.yaml")
