"""Variants: `extends:` + `edits:`, their errors, and the built-in variants' own properties."""

import re
import textwrap

import pytest
import torch
from attngen.checker import check as check_spec
from attngen.cli import main
from attngen.loader import Loader, load
from conftest import REPO_ROOT
from equivalence import load_generated
from references.variants import eca_kernel_size

BASE = """\
name: Base
params:
  channel: 8
  reduction: {default: 2, doc: bottleneck ratio}
inputs:
  x: [B, channel, H, W]
graph:
  pool: {op: AdaptiveAvgPool2d, args: [1], in: x, shape: [B, channel, 1, 1]}
  flat: {op: view, in: pool, to: [B, channel], shape: [B, channel]}
  fc:   {op: Linear, args: [channel, channel // reduction], in: flat}
  act:  {op: Sigmoid, in: fc}
outputs: act
"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def variant(tmp_path, text, base=BASE):
    write(tmp_path, "base.yaml", base)
    return write(tmp_path, "v.yaml", "extends: base.yaml\n" + textwrap.dedent(text))


def errors(capsys, path):
    code = main(["check", str(path)])
    err = capsys.readouterr().err
    found = re.findall(r"([\w./-]+):(\d+):(\d+): error\[(E\d{3})\]: (.*)", err)
    return code, [(f.rsplit("/", 1)[-1], int(line), int(col), c, m)
                  for f, line, col, c, m in found], err


def nodes(path):
    return list(load(path, Loader(display_root=path.parent)).nodes)


# -- each edit ----------------------------------------------------------------------------
def test_no_edits_is_the_base_renamed(tmp_path):
    path = variant(tmp_path, "name: Same\nedits: []\n")
    spec = load(path, Loader(display_root=tmp_path))
    assert spec.name == "Same" and spec.extends == "base.yaml"
    assert list(spec.nodes) == ["pool", "flat", "fc", "act"]
    check_spec(spec)


def test_insert_before_and_after_keep_order(tmp_path):
    path = variant(tmp_path, """\
        edits:
          - insert_after: pool
            nodes:
              mx:  {op: AdaptiveMaxPool2d, args: [1], in: x}
              both: {op: add, in: [pool, mx]}
          - insert_before: act
            nodes:
              drop: {op: Dropout, args: [0.1], in: fc}
          - patch: flat
            set: {in: both}
          - patch: act
            set: {in: drop}
        """)
    assert nodes(path) == ["pool", "mx", "both", "flat", "fc", "drop", "act"]
    spec = load(path, Loader(display_root=tmp_path))
    assert [r.name for r in spec.nodes["flat"].inputs] == ["both"]
    check_spec(spec)


def test_replace_keeps_place_and_rename_rewires_readers(tmp_path):
    path = variant(tmp_path, """\
        edits:
          - replace: pool
            with: {op: AdaptiveMaxPool2d, args: [1], in: x, shape: [B, channel, 1, 1]}
          - rename: pool
            to: max_pool
          - rename: act
            to: gate
        """)
    spec = load(path, Loader(display_root=tmp_path))
    assert list(spec.nodes) == ["max_pool", "flat", "fc", "gate"]
    assert spec.nodes["max_pool"].form.op == "AdaptiveMaxPool2d"
    assert [r.name for r in spec.nodes["flat"].inputs] == ["max_pool"]
    assert [o.name for o in spec.outputs] == ["gate"]  # outputs follow a rename too
    check_spec(spec)


def test_patch_null_drops_a_key(tmp_path):
    path = variant(tmp_path, """\
        edits:
          - patch: pool
            set: {shape: null, args: [2]}
        """)
    spec = load(path, Loader(display_root=tmp_path))
    assert spec.nodes["pool"].shape is None
    assert spec.nodes["pool"].form.args["output_size"].text == "2"


def test_param_override_changes_only_the_default(tmp_path):
    path = variant(tmp_path, "params:\n  reduction: 4\n  extra: 3\n")
    spec = load(path, Loader(display_root=tmp_path))
    p = spec.params["reduction"]
    assert (p.default, p.doc, p.type) == (4, "bottleneck ratio", "int")
    assert list(spec.params) == ["channel", "reduction", "extra"]


def test_remove_a_param_and_derive_it(tmp_path):
    path = variant(tmp_path, """\
        let:
          reduction: 4 if channel >= 16 else 2
        edits:
          - remove: reduction
        """)
    spec = load(path, Loader(display_root=tmp_path))
    assert list(spec.params) == ["channel"] and "reduction" in spec.lets
    check_spec(spec)


def test_requires_are_added(tmp_path):
    path = variant(tmp_path, "requires: channel % reduction == 0\n")
    spec = load(path, Loader(display_root=tmp_path))
    assert [r.text for r in spec.requires] == ["channel % reduction == 0"]


def test_variant_of_a_variant(tmp_path):
    variant(tmp_path, "name: Mid\nparams: {reduction: 4}\n")
    top = write(tmp_path, "top.yaml", """\
        extends: v.yaml
        name: Top
        edits:
          - remove: act
        outputs: fc
        """)
    spec = load(top, Loader(display_root=tmp_path))
    assert spec.name == "Top" and spec.params["reduction"].default == 4
    assert list(spec.nodes) == ["pool", "flat", "fc"]


def test_inherited_use_resolves_next_to_the_base(tmp_path):
    """A base in another folder keeps its `use:` sub-specs relative to itself."""
    write(tmp_path / "lib", "inner.yaml", """\
        name: Inner
        inputs: {x: [B, C]}
        graph: {s: {op: Sigmoid, in: x}}
        outputs: s
        """)
    write(tmp_path / "lib", "outer.yaml", """\
        name: Outer
        inputs: {x: [B, C]}
        graph: {g: {use: inner, in: x}}
        outputs: g
        """)
    path = write(tmp_path / "mine", "v.yaml", "extends: ../lib/outer.yaml\nname: Mine\n")
    # lib/ is outside mine/, the folder of the spec being built: named as an include folder
    spec = load(path, Loader(display_root=tmp_path, include=[tmp_path / "lib"]))
    assert spec.nodes["g"].form.spec.name == "Inner"


def test_extends_a_builtin_by_name(tmp_path):
    path = write(tmp_path, "v.yaml", "extends: se\nname: SESmall\nparams: {reduction: 4}\n")
    spec = load(path, Loader(display_root=tmp_path))
    assert spec.params["reduction"].default == 4 and "fc" in spec.nodes


# -- errors --------------------------------------------------------------------------------
def test_dangling_reference_is_reported_at_the_edit(tmp_path, capsys):
    path = variant(tmp_path, """\
        name: Broken
        edits:
          - remove: flat
        """)
    code, found, err = errors(capsys, path)
    assert code == 1
    assert found == [("v.yaml", 4, 13, "E300", "removing 'flat' leaves a dangling reference")]
    assert "node 'fc' still uses it (" in err and "base.yaml:10:" in err


def test_dangling_param_is_reported_at_the_edit(tmp_path, capsys):
    path = variant(tmp_path, "edits:\n  - remove: [reduction]\n")
    _code, found, err = errors(capsys, path)
    assert found == [("v.yaml", 3, 14, "E202", "removing 'reduction' leaves a dangling reference")]
    assert "node 'fc' ('args') still uses it" in err


def test_new_reference_to_an_unknown_node_points_at_the_edit(tmp_path, capsys):
    path = variant(tmp_path, "edits:\n  - patch: fc\n    set: {in: flta}\n")
    code, found, _ = errors(capsys, path)
    assert code == 1
    assert found[0][:4] == ("v.yaml", 4, 15, "E300")
    assert "did you mean 'flat'?" in found[0][4]


def test_shape_error_in_an_edited_node_points_at_the_edit(tmp_path, capsys):
    path = variant(tmp_path, "edits:\n  - patch: flat\n    set: {shape: [B, channel, 1]}\n")
    code, found, _ = errors(capsys, path)
    assert code == 1 and found[0][:2] == ("v.yaml", 4) and found[0][3] == "E400"


@pytest.mark.parametrize("edits, line, col, code, fragment", [
    ("  - insert_afer: pool\n    nodes: {}\n", 3, 5, "E101",
     "unknown key 'insert_afer' in an edit; did you mean 'insert_after'?"),
    ("  - remove: fc\n    with: {op: ReLU}\n", 4, 5, "E502",
     "'with' does not belong to a 'remove' edit (it goes with 'replace')"),
    ("  - replace: fc\n", 3, 5, "E103", "a 'replace' edit needs 'with'"),
    ("  - patch: fcc\n    set: {in: x}\n", 3, 12, "E502",
     "no node 'fcc' in the graph being edited; did you mean 'fc'?"),
    ("  - remove: redution\n", 3, 13, "E502",
     ("nothing named 'redution' to remove (no node, param, let or input); did you mean "
     "'reduction'?")),
    ("  - {remove: fc, rename: act, to: y}\n", 3, 5, "E502",
     "an edit needs exactly one of remove, replace, insert_before, insert_after, patch, rename"),
    ("  - insert_after: fc\n    nodes: {pool: {op: ReLU, in: fc}}\n", 4, 13, "E106",
     "'pool' already exists"),
    ("  - rename: fc\n    to: class\n", 4, 9, "E104", "is a Python keyword"),
    ("  - remove\n", 3, 5, "E102", "an edit must be a mapping"),
])
def test_bad_edits(tmp_path, capsys, edits, line, col, code, fragment):
    path = variant(tmp_path, "edits:\n" + edits)
    rc, found, err = errors(capsys, path)
    assert rc == 1, err
    assert found[0][1:4] == (line, col, code), err
    assert fragment in found[0][4]


def test_graph_in_a_variant_is_refused(tmp_path, capsys):
    path = variant(tmp_path, "graph:\n  y: {op: ReLU, in: x}\n")
    _, found, _ = errors(capsys, path)
    assert found[0][1:4] == (2, 1, "E502") and "through 'edits'" in found[0][4]


def test_unknown_top_key_in_a_variant(tmp_path, capsys):
    path = variant(tmp_path, "parms: {channel: 4}\n")
    _, found, _ = errors(capsys, path)
    assert found[0][:4] == ("v.yaml", 2, 1, "E101") and "did you mean 'params'?" in found[0][4]


def test_errors_in_the_base_point_into_the_base(tmp_path, capsys):
    bad = BASE.replace("in: flat}", "in: flat, shape: [B, channel]}")
    path = variant(tmp_path, "name: V\n", base=bad)
    _, found, _ = errors(capsys, path)
    assert found[0][0] == "base.yaml" and found[0][3] == "E400"


@pytest.mark.parametrize("key", ["cases", "seq"])
def test_a_scalar_where_the_base_needs_a_list_is_an_error_not_a_traceback(tmp_path, capsys,
                                                                         key):
    # the dangling-reference scan after `remove:` reads every node of the base, also one
    # whose `cases:` or `seq:` is a number (found by the type checker: it iterated the number)
    bad = BASE.replace("  act:  {op: Sigmoid, in: fc}", f"  act:  {{{key}: 5, in: fc}}")
    path = variant(tmp_path, "edits:\n  - remove: flat\n", base=bad)
    code, found, err = errors(capsys, path)
    assert code == 1 and "Traceback" not in err
    assert found[0][:4] == ("v.yaml", 3, 13, "E300")


def test_extends_cycle_reports_the_chain(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", "extends: b.yaml\nname: A\n")
    write(tmp_path, "b.yaml", "extends: c\nname: B\n")
    path = write(tmp_path, "c.yaml", "extends: a.yaml\nname: C\n")
    _, found, err = errors(capsys, tmp_path / "a.yaml")
    assert found[0][0] == "c.yaml" and found[0][3] == "E501", err
    assert "a.yaml -> b.yaml -> c.yaml -> a.yaml" in found[0][4]
    _, found, _ = errors(capsys, path)
    assert "c.yaml -> a.yaml -> b.yaml -> c.yaml" in found[0][4]


def test_extends_itself(tmp_path, capsys):
    path = write(tmp_path, "a.yaml", "extends: a\nname: A\n")
    _, found, _ = errors(capsys, path)
    assert found[0][1:4] == (1, 10, "E501")


def test_extends_unknown_spec(tmp_path, capsys):
    path = write(tmp_path, "a.yaml", "extends: see\nname: A\n")
    _, found, _ = errors(capsys, path)
    assert found[0][1:4] == (1, 10, "E500") and "did you mean 'se'?" in found[0][4]


def test_edits_without_extends(tmp_path, capsys):
    path = write(tmp_path, "a.yaml", BASE + "edits: []\n")
    _, found, _ = errors(capsys, path)
    assert found[0][3] == "E502"


# -- the built-in variants -------------------------------------------------------------------
VARIANTS = sorted((REPO_ROOT / "specs" / "variants").glob("*.yaml"))


def test_the_required_variants_exist():
    names = {p.stem for p in VARIANTS}
    assert {"se_max", "se_avgmax", "eca_adaptive", "cbam_channel_only", "coordatt_relu",
            "sk_two_branch"} <= names


@pytest.mark.parametrize("path", VARIANTS, ids=[p.stem for p in VARIANTS])
def test_variant_extends_and_is_generated(path):
    spec = load(path)
    assert spec.extends, f"{path.name} is not written as a variant"
    assert (REPO_ROOT / "generated" / "variants" / f"{path.stem}.py").is_file()
    assert (REPO_ROOT / "generated" / "variants" / f"{path.stem}.dot").is_file()


def test_generated_variants_are_up_to_date(capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    code = main(["build", "--check", "--no-svg", "specs/variants/", "-o", "generated/variants/"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err


@pytest.mark.parametrize("channel", [8, 16, 24, 64, 96, 128, 256, 512, 1000, 1024, 2048])
def test_eca_adaptive_kernel_follows_the_channel_count(channel):
    cls = load_generated("variants/eca_adaptive").ECAAdaptiveAttention
    conv = cls(channel).conv
    k = eca_kernel_size(channel)
    assert conv.kernel_size == (k,) and conv.padding == ((k - 1) // 2,)
    assert k % 2 == 1
    x = torch.randn(2, channel, 3, 5)
    assert cls(channel)(x).shape == x.shape


def test_se_max_ignores_everything_but_the_channel_maximum():
    """Only the max-pool variant is unchanged when non-maximal values change."""
    torch.manual_seed(0)
    mod = load_generated("variants/se_max").SEMaxAttention(16, 4).eval()
    avg = load_generated("se").SEAttention(16, 4).eval()
    x = torch.rand(2, 16, 4, 4) + 1.0
    x[:, :, 0, 0] = 1.0  # not a channel's maximum
    y = x.clone()
    y[:, :, 0, 0] = 0.5  # lower still: every maximum stays, every mean drops
    gate_x, gate_y = mod(x) / x, mod(y) / y
    assert torch.allclose(gate_x, gate_y, atol=1e-6)
    assert not torch.allclose(avg(x) / x, avg(y) / y, atol=1e-6)


def test_cbam_channel_only_has_no_spatial_stage():
    mod = load_generated("variants/cbam_channel_only").CBAMChannelOnly(32)
    names = {n for n, _ in mod.named_children()}
    assert names == {"ca"}
    assert "kernel_size" not in load(REPO_ROOT / "specs/variants/cbam_channel_only.yaml").params


def test_coordatt_relu_cuts_negative_responses():
    """The variant's post-BN activation is a ReLU: negative pre-activations give 0,
    where the base's h_swish gives a negative value."""
    relu = load_generated("variants/coordatt_relu").CoordAttReLU(16, 16).eval()
    base = load_generated("coordatt").CoordAtt(16, 16).eval()
    assert isinstance(relu.relu, torch.nn.ReLU) and not hasattr(relu, "act")
    assert not isinstance(base.act, torch.nn.ReLU)
    seen = {}
    relu.relu.register_forward_hook(lambda m, i, o: seen.update(relu=(i[0], o)))
    base.act.register_forward_hook(lambda m, i, o: seen.update(base=(i[0], o)))
    base.load_state_dict(relu.state_dict(), strict=True)  # same weights, only the act differs
    x = torch.randn(2, 16, 5, 7)
    with torch.no_grad():
        out_relu, out_base = relu(x), base(x)
    pre, post = seen["relu"]
    assert (pre < 0).any()
    assert torch.equal(post[pre < 0], torch.zeros_like(post[pre < 0]))
    assert torch.equal(post[pre > 0], pre[pre > 0])
    base_pre, base_post = seen["base"]
    assert torch.equal(base_pre, pre)
    assert (base_post[(pre < 0) & (pre > -3)] < 0).all()
    assert not torch.allclose(out_relu, out_base)


def test_sk_two_branch_is_the_reference_sk_with_kernels_3_5():
    from equivalence import randomize_batchnorm
    from references.sk import SKAttention

    torch.manual_seed(0)
    gen = load_generated("variants/sk_two_branch").SKTwoBranchAttention(16, reduction=2)
    assert len(gen.convs) == 2 and len(gen.fcs) == 2
    assert [b.conv.kernel_size for b in gen.convs] == [(3, 3), (5, 5)]
    ref = randomize_batchnorm(SKAttention(16, kernels=[3, 5], reduction=2), 1).eval()
    gen.load_state_dict(ref.state_dict(), strict=True)
    gen.eval()
    x = torch.randn(3, 16, 6, 9)
    with torch.no_grad():
        assert torch.allclose(gen(x), ref(x), atol=1e-6, rtol=1e-5)
