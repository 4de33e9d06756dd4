"""The Python API: attngen.load (checked shapes, params) and attngen.compile (in memory)."""

import subprocess
import sys

import attngen
import pytest
import sympy
import torch
from conftest import REPO_ROOT
from equivalence import load_generated


def test_import_is_cheap():
    code = ("import sys, attngen; heavy = [m for m in ('torch', 'sympy', 'jinja2', 'networkx') "
            "if m in sys.modules]; assert not heavy, heavy; "
            "assert callable(attngen.load) and callable(attngen.compile)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr


def test_compile_matches_the_generated_file():
    cls = attngen.compile(str(REPO_ROOT / "specs/se.yaml"))
    ref_cls = load_generated("se").SEAttention
    assert cls is not ref_cls and cls.__name__ == "SEAttention"
    torch.manual_seed(0)
    ref = ref_cls(channel=32, reduction=4).eval()
    mine = cls(channel=32, reduction=4).eval()
    mine.load_state_dict(ref.state_dict())  # same names, same shapes
    x = torch.randn(2, 32, 5, 6)
    torch.testing.assert_close(mine(x), ref(x), rtol=0, atol=0)


def test_source_and_compile_take_the_spec_refs_option():
    se = attngen.load(REPO_ROOT / "specs/se.yaml")
    plain, refs = se.source(), se.source(spec_refs=True)
    generated = (REPO_ROOT / "generated/se.py").read_text()
    assert plain.split('"""', 1)[1] == generated.split('"""', 1)[1]  # after the header
    assert "se.yaml:13]\n        avg_pool = self.avg_pool(x)" in refs and "yaml:" not in plain
    torch.manual_seed(0)
    model = se.compile()(channel=16, reduction=4).eval()
    with_refs = attngen.compile(se, spec_refs=True)(channel=16, reduction=4).eval()
    with_refs.load_state_dict(model.state_dict())
    x = torch.randn(2, 16, 3, 5)
    torch.testing.assert_close(with_refs(x), model(x), rtol=0, atol=0)


def test_compile_a_loaded_spec_and_a_builtin_name():
    se = attngen.load(REPO_ROOT / "specs/se.yaml")
    assert se.compile().__name__ == attngen.compile(se).__name__ == "SEAttention"
    eca = attngen.compile("eca")
    ref = load_generated("eca").ECAAttention()
    model = eca()
    model.load_state_dict(ref.state_dict())
    x = torch.randn(3, 16, 4, 4)
    torch.testing.assert_close(model(x), ref(x), rtol=0, atol=0)


def test_compile_writes_nothing_and_picks_sub_classes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ca = attngen.compile("cbam", name="ChannelAttention")
    assert ca.__name__ == "ChannelAttention"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyError, match="did you mean 'ChannelAttention'"):
        attngen.compile("cbam", name="ChannelAtention")


def test_load_shapes():
    se = attngen.load("se")
    assert se.name == "SEAttention"
    assert se.params == {"channel": 512, "reduction": 16}
    assert se.nodes == ["avg_pool", "squeeze", "fc", "weight", "out"]
    assert se.shape("x") == "(B, channel, H, W)"
    assert se.shape("avg_pool") == "(B, channel, 1, 1)"
    assert se.shape("fc") == "(B, channel)"
    dims = se.dims("squeeze")
    assert all(isinstance(d, sympy.Basic) for d in dims)
    assert [str(d) for d in dims] == ["B", "channel"]
    assert dims[1].subs({d: 8 for d in dims[1].free_symbols}) == 8
    assert [str(d) for d in se.dims("weight")] == ["B", "channel", "1", "1"]
    with pytest.raises(KeyError, match="did you mean 'fc'"):
        se.shape("fcc")


def test_load_shapes_of_list_and_derived_nodes():
    sk = attngen.load("sk")
    assert sk.shape("feats") == "(4, B, channel, H, W)"
    assert len(sk.dims("convs")) == 4
    eca = attngen.load(REPO_ROOT / "specs/variants/eca_adaptive.yaml")
    assert eca.shape("conv") == "(B, 1, channel)"
    assert eca.params == {"channel": 64, "gamma": 2, "b": 1}


def test_a_node_with_several_outputs_has_no_shape_of_its_own():
    # coordatt's `split` has out: [y_h, y_w]: each has a shape, the node none (shape() gave
    # its output names as if they were dims, and dims() a StopIteration; found by mypy)
    coordatt = attngen.load("coordatt")
    for ask in (coordatt.shape, coordatt.dims):
        with pytest.raises(ValueError, match=r"'split' has several outputs \(y_h, y_w\)"):
            ask("split")
    assert coordatt.shape("y_w") == "(B, max(8, (inp // reduction)), W, 1)"
    assert [str(d) for d in coordatt.dims("y_h")] == ["B", "Max(8, floor(inp/reduction))", "H",
                                                      "1"]


def test_param_counts_need_no_torch_and_check_values():
    se = attngen.load("se")
    assert se.param_count() == 2 * 512 * 32
    assert se.param_count(channel=256, reduction=8) == 2 * 256 * 32
    assert se.param_counts() == {n: (32768 if n == "fc" else 0) for n in se.nodes}
    with pytest.raises(TypeError, match="did you mean 'channel'"):
        se.param_count(chanel=3)
    with pytest.raises(attngen.SpecError, match="E405"):
        attngen.load("eca").param_count(kernel_size=4)


def test_load_errors_are_located(tmp_path):
    with pytest.raises(attngen.SpecError, match="did you mean 'eca'"):
        attngen.load("ecaa")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\ninputs: {x: [B, C]}\ngraph:\n  y: {op: Nope, in: x}\n"
                   "outputs: y\n")
    with pytest.raises(attngen.SpecError, match=r"bad.yaml:4:\d+: error\[E401\]"):
        attngen.compile(bad)
