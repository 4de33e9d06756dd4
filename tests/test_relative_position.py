"""`init: relative_position`: a long buffer pairing the positions of a window (Swin's
relative_position_index), its helper in the generated file, the checker's rules for its
window and shape, and located errors whose notes work when pasted."""

import dataclasses
import itertools

import pytest
import torch
from attngen import compile as compile_spec
from attngen import load
from attngen.cli import main
from attngen.errors import SpecError
from attngen.expr import parse
from attngen.model import TensorDecl
from references.swin import swin_index
from requiring import write

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = """\
name: RelBias
params:
  wh: {type: int, example: 3}
  ww: {type: int, example: 4}
  heads: {type: int, example: 2}
inputs:
  x: [B, heads, wh * ww, wh * ww]
graph:
  table: {param: [(2 * wh - 1) * (2 * ww - 1), heads], init: trunc_normal, std: 0.02}
  pairs: {buffer: [wh * ww, wh * ww], init: relative_position, window: [wh, ww], dtype: long}
  bias:  {op: index, in: [table, pairs], shape: [wh * ww, wh * ww, heads]}
  per_head: {op: rearrange, in: bias, pattern: 'i j h -> h i j'}
  out:   {op: add, in: [x, per_head]}
outputs: out
"""


def _write(tmp_path, text, name="spec.yaml"):
    return write(tmp_path, name, text)


@pytest.mark.parametrize("window", [(3, 4), (7, 7), (1, 5), (2, 1)])
def test_the_buffer_is_swins_index(tmp_path, window):
    module = compile_spec(_write(tmp_path, SPEC))(*window, 2)
    index = module.state_dict()["pairs"]  # persistent: in the state_dict
    assert index.dtype == torch.long
    assert torch.equal(index, swin_index(*window))


@pytest.mark.parametrize("window", [(5,), (2, 3, 4)])
def test_other_windows_pair_every_offset_once(tmp_path, window):
    """1-D and 3-D windows: entry (i, j) is the row-major rank of the offset i - j among
    the prod(2 w - 1) offsets, by brute force."""
    sizes = ", ".join(f"w{a}" for a in range(len(window)))
    area = " * ".join(f"w{a}" for a in range(len(window)))
    text = ("name: Pairs\nparams:\n" + "".join(f"  w{a}: {{type: int, example: 2}}\n"
                                                  for a in range(len(window)))
            + f"inputs:\n  x: [{area}]\ngraph:\n"
            f"  pairs: {{buffer: [{area}, {area}], init: relative_position, window: "
            f"[{sizes}], dtype: long}}\n  out: {{op: add, in: [x, pairs]}}\n"
            "outputs: out\n")
    index = compile_spec(_write(tmp_path, text))(*window).pairs
    positions = list(itertools.product(*[range(w) for w in window]))
    for (i, p), (j, q) in itertools.product(enumerate(positions), repeat=2):
        row = 0
        for a, w in enumerate(window):
            row = row * (2 * w - 1) + p[a] - q[a] + w - 1
        assert index[i, j] == row
    offsets = 1
    for w in window:
        offsets *= 2 * w - 1
    assert int(index.max()) == offsets - 1


def test_the_generated_file_defines_the_helper_once(tmp_path):
    out = tmp_path / "out"
    assert main(["build", str(_write(tmp_path, SPEC)), "-o", str(out), "--no-svg"]) == 0
    source = (out / "spec.py").read_text()
    assert source.count("def _relative_position_index(") == 1
    assert '"pairs", _relative_position_index((wh, ww), device=device)' in source
    plain = tmp_path / "plain"
    se = _write(tmp_path, SPEC.replace("init: relative_position, window: [wh, ww]",
                                       "init: zeros"), "zeros.yaml")
    assert main(["build", str(se), "-o", str(plain), "--no-svg"]) == 0
    assert "_relative_position_index" not in (plain / "zeros.py").read_text()


def test_meta_device_and_float64(tmp_path):
    cls = compile_spec(_write(tmp_path, SPEC))
    assert cls(3, 4, 2, device="meta").pairs.device.type == "meta"
    module = cls(3, 4, 2, dtype=torch.float64)
    assert module.pairs.dtype == torch.long and module.table.dtype == torch.float64


BAD = [
    ("init: relative_position, window: [wh, ww], dtype: long",
     "init: relative_position, dtype: long", "E103", "needs 'window'"),
    ("init: relative_position, window: [wh, ww], dtype: long",
     "init: zeros, window: [wh, ww], dtype: long", "E102", "applies only to init: "
     "relative_position"),
    ("window: [wh, ww]", "window: [wh, ww, 1, 1]", "E102", "has 4 sizes; it takes 1 to 3"),
    ("buffer: [wh * ww, wh * ww]", "buffer: [wh * ww, wh]", "E403",
     "dim 1 of buffer 'pairs' is wh but its window's position count"),
    ("window: [wh, ww]", "window: [wh, ww - 4]", "E402", "window size 'ww - 4' needs ww >= 5"),
    ("buffer: [wh * ww, wh * ww], init: relative_position, window: [wh, ww]",
     "buffer: [wh * ww], init: relative_position, window: [wh, ww]", "E102",
     "needs a shape of two dims"),
]


@pytest.mark.parametrize(("old", "new", "code", "message"), BAD)
def test_located_errors(tmp_path, capsys, old, new, code, message):
    assert old in SPEC
    path = _write(tmp_path, SPEC.replace(old, new))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and message in err, err
    assert err.startswith(f"{path}:10:")  # the buffer's line


def test_a_float_buffer_gets_a_fix_that_works_when_pasted(tmp_path, capsys):
    path = _write(tmp_path, SPEC.replace(", dtype: long}", "}"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "'init: relative_position' makes indices" in err and "note: add: dtype: long" in err
    path.write_text(path.read_text().replace("window: [wh, ww]}",
                                             "window: [wh, ww], dtype: long}"))
    assert main(["check", str(path)]) == 0


def test_a_param_is_told_to_be_a_long_buffer(tmp_path, capsys):
    path = _write(tmp_path, SPEC.replace("pairs: {buffer:", "pairs: {param:")
                  .replace(", dtype: long}", "}"))
    assert main(["check", str(path)]) == 1
    assert "make it a long buffer" in capsys.readouterr().err


def test_a_spec_edited_in_python_is_checked_again(tmp_path):
    spec = load(_write(tmp_path, SPEC)).spec
    node = spec.nodes["pairs"]
    decl = node.form
    assert isinstance(decl, TensorDecl)
    loc = decl.shape[0].loc
    for options in ({}, {"window": (parse("wh", loc),) * 4}, {"window": ["wh"]}):
        node.form = dataclasses.replace(decl, options=options)
        with pytest.raises(SpecError):
            compile_spec(spec)
    node.form = dataclasses.replace(decl, options={"window": (parse("ww", loc),
                                                              parse("wh", loc))})
    assert torch.equal(compile_spec(spec)(3, 4, 2).pairs, swin_index(4, 3))  # [ww, wh]: 12 too
