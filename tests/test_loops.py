"""Loops (issue 13): `each: i in range(n)`, `zip:` (copy i reads the i-th tensor of a list),
`each` and `when` on the layers of a `seq:`. The specs of tests/loop_specs/ against the
hand-written modules of tests/references/loops.py, their source text, parameter counts and
diagrams, and the errors of each new construct (located, with fixes that work)."""

import html
import importlib
import re

import pytest
import torch
from attngen.cli import main
from attngen.counts import total
from attngen.loader import Loader, load
from conftest import REPO_ROOT
from equivalence import assert_equivalent, load_generated

SPECS = REPO_ROOT / "tests" / "loop_specs"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("loops")
    specs = sorted(str(p) for p in SPECS.glob("*.yaml"))
    assert main(["build", *specs, "-o", str(root / "generated")]) == 0
    return root


def _rand(*shape):
    return lambda: (torch.randn(*shape),)


# (spec stem, class, args, kwargs, inputs): two settings each, batch > 1, non-square
CASES = [
    ("dilated_pyramid", "DilatedPyramid", (), {}, _rand(2, 16, 9, 7)),
    ("dilated_pyramid", "DilatedPyramid", (24, 2, 3), {}, _rand(3, 24, 6, 11)),
    ("psa_split", "PSASplit", (), {}, _rand(2, 32, 7, 5)),
    ("psa_split", "PSASplit", (), {"channel": 48, "S": 3, "reduction": 4}, _rand(3, 48, 6, 9)),
    ("seq_loops", "SeqLoops", (), {}, _rand(2, 16, 9, 7)),
    ("seq_loops", "SeqLoops", (8, 3, False), {}, _rand(3, 8, 10, 12)),
]
CASE_IDS = [f"{c[1]}{c[2]}{c[3]}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_generated_matches_hand_written(built, case):
    stem, cls, args, kwargs, inputs = case
    reference = getattr(importlib.import_module("references.loops"), cls)
    generated = getattr(load_generated(stem, root=built), cls)
    assert_equivalent(generated, reference, args, kwargs, inputs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_params_count_what_the_module_holds(built, case):
    stem, cls, args, kwargs, _ = case
    module_cls = getattr(load_generated(stem, root=built), cls)
    module = module_cls(*args, **kwargs)
    spec = load(SPECS / f"{stem}.yaml", Loader())
    names = list(spec.params)
    overrides = {**dict(zip(names, args, strict=False)), **kwargs}
    assert total(spec, overrides) == sum(p.numel() for p in module.parameters())


# lines of generated source, as one writes them by hand
SOURCE = [
    ("dilated_pyramid", "for i in range(num_layers)"),
    ("dilated_pyramid", "padding=2 ** i,\n"),
    ("dilated_pyramid", "dilation=2 ** i,\n"),
    ("dilated_pyramid", "scaled = [item / (i + 1) for i, item in enumerate(branches)]"),
    ("psa_split", "parts = torch.split(x, self.channel // self.S, dim=1)"),
    ("psa_split", "convs = [layer(item) for layer, item in zip(self.convs, parts, "
                   "strict=True)]"),
    ("psa_split", "for _ in range(S)"),
    # comments in the spec's terms, not at the default S the checker expands the loops at
    ("psa_split", "# [(B, channel // S, H, W), ...] -> [(B, channel // S, H, W) for i in "
                  "range(S)]"),
    ("psa_split", "# (B, S, channel // S, H, W), (B, S, channel // S, 1, 1) -> "
                  "(B, S, channel // S, H, W)"),
    ("seq_loops", "*[\n                nn.Conv2d(channel, channel, 3, padding=2 ** i, "
                  "dilation=2 ** i)\n                for i in range(num_layers)\n            ],"),
    ("seq_loops", "*([nn.BatchNorm2d(channel)] if use_bn else []),"),
    ("seq_loops", "blocks=nn.Sequential(\n                *["),
    ("seq_loops", "norm=nn.BatchNorm2d(channel) if use_bn else nn.Identity(),"),
]


SOURCE += [
    ("list_zip", "convs = [layer(item) for layer, item in zip(self.convs, feats, strict=True)]"),
]


def test_a_list_input_is_zipped_whole(built):
    """`zip:` over a list input reads the forward argument itself (no unpacking, no item
    read by name), and copy i runs on the i-th tensor."""
    source = (built / "generated" / "list_zip.py").read_text()
    assert "= feats\n" not in source, source
    module = load_generated("list_zip", root=built).ListZip()
    a, b = torch.randn(2, 4, 5, 3), torch.randn(2, 4, 5, 3)
    expected = torch.cat([module.convs[0](a), module.convs[1](b)], dim=1)
    assert torch.equal(module([a, b]), expected)
    dot = (built / "generated" / "list_zip.dot").read_text()
    assert '"in:a" -> "convs"' in dot and '"in:b" -> "convs"' in dot, dot


@pytest.mark.parametrize("stem, line", SOURCE)
def test_generated_source_reads_like_hand_written(built, stem, line):
    source = (built / "generated" / f"{stem}.py").read_text()
    source = source.replace(", **factory_kwargs", "")  # the factory kwargs: tested elsewhere
    assert line in source, source


def test_a_skipped_list_layer_renumbers_the_keys_after_it(built):
    """`when:` false in a list seq: the next layers take its key (nn.Sequential(*layers));
    in a named seq the key holds an nn.Identity, which has no state."""
    cls = load_generated("seq_loops", root=built).SeqLoops
    keys = [k for k in cls(8, 2, False).state_dict() if k.startswith("body.")]
    assert keys == ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                    "body.2.weight", "body.2.bias"]
    with_bn = cls(8, 2, True).state_dict()
    assert "body.3.running_mean" in with_bn and "head.norm.running_mean" in with_bn
    assert "head.blocks.1.weight" in with_bn


@pytest.mark.parametrize("stem, text", [
    ("dilated_pyramid", "for i in range(num_layers)"),
    ("dilated_pyramid", "for i in range(num_layers), one per tensor"),
    ("psa_split", "for i in range(S), one per tensor"),
    ("seq_loops", "for i in range(num_layers)]"),
    ("seq_loops", "BatchNorm2d(channel) if use_bn"),
])
def test_the_diagram_shows_the_loop(built, stem, text):
    dot = (built / "generated" / f"{stem}.dot").read_text()
    shown = " ".join(html.unescape(re.sub(r"<[^>]*>", "", dot)).split())  # labels, unwrapped
    assert text in shown, dot


# -- errors -------------------------------------------------------------------------------
BASE = """\
name: Loops
params:
  channel: 16
  S: 4
  n: 2
  kernels: [3, 5, 7, 9]
requires:
  - channel % S == 0
  - channel % 4 == 0
inputs:
  x: [B, channel, H, W]
graph:
  parts: {op: chunk, in: x, chunks: 4, dim: 1}
NODE
  out: {op: cat, in: convs, dim: 1}
outputs: out
"""


def _check(tmp_path, capsys, node: str):
    spec = tmp_path / "loops.yaml"
    spec.write_text(BASE.replace("NODE", node))
    code = main(["check", "-q", str(spec)])
    return code, capsys.readouterr().err


GOOD = "  convs: {each: i in range(S), zip: parts, op: Conv2d, args: [channel // S, " \
       "channel // S, 1]}"

ERRORS = [
    # zip without each: the two ways to write it
    ("  convs: {zip: parts, op: Conv2d, args: [channel // S, channel // S, 1]}",
     "E103", "14:11", "has 'zip' but no 'each'", "add 'each: i in range(N)'"),
    ("  convs: {each: i in range(S), zip: parts, in: x, op: Conv2d, args: [4, 4, 1]}",
     "E102", "14:44", "both 'zip' and 'in'", "remove 'in'"),
    ("  convs: {each: i in range(S), zip: parts, apply: parts}",
     "E102", "14:44", "both 'zip' and 'apply'", "{apply: parts, map: true, in: parts}"),
    ("  convs: {each: i in range(S), zip: x, op: Conv2d, args: [channel, channel, 1]}",
     "E402", "14:37", "names one tensor, not a list", "write 'in: x'"),
    ("  convs: {each: i in range(3), zip: parts, op: Conv2d, args: [channel // S, channel // S,"
     " 1]}", "E402", "14:37", "has 3 copies ('each: range(3)') but 'parts' holds 4 tensors",
     "make the counts equal"),
    ("  convs: {each: 'k in kernels[:2]', zip: parts, op: Conv2d, args: [4, 4, k]}",
     "E201", "14:22", "slices are not allowed", "index with x[i]"),
    ("  convs: {each: '(k, p) in zip(kernels, parts)', op: Conv2d, args: [4, 4, k]}",
     "E201", "14:27", "cannot zip", "{each: k in kernels, zip: parts"),
    ("  convs: {each: 'i in range(1, 2, 3, 4)', zip: parts, op: Conv2d, args: [4, 4, 1]}",
     "E201", "14:22", "range() takes 1 to 3 argument(s)", ""),
    ("  convs: {each: i in range(S / 2), in: x, op: Conv2d, args: [channel, channel, 1]}",
     "E102", "14:22", "range() needs whole numbers", ""),
    ("  convs: {each: i in range(n), in: x, op: Conv2d, args: [channel, channel, 3],"
     " padding: 2 ** S}", "E102", "", "has no number value here", "loop variable"),
    ("  convs: {each: 'i in range(60, 70)', in: x, op: Conv2d, args: [channel, channel, 3],"
     " padding: 2 ** i}", "E102", "", "the exponent 65 is outside -64 to 64", ""),
    ("  convs: {each: n in range(S), in: x, op: Conv2d, args: [channel, channel, 1]}",
     "E106", "14:22", "loop variable 'n' of node 'convs' shadows", ""),
    ("  convs: {in: x, seq: [{each: i in range(S), op: Conv2d, args: [channel, channel, 1]},"
     " {each: i in range(n), op: ReLU}]}", "E106", "", "loop variable 'i'", ""),
    ("  convs: {in: x, seq: [{each: S in range(n), op: ReLU}]}", "E106", "", "shadows", ""),
]


@pytest.mark.parametrize("node, code, where, message, fix", ERRORS)
def test_loop_errors_are_located_with_a_fix(tmp_path, capsys, node, code, where, message, fix):
    status, err = _check(tmp_path, capsys, node)
    assert status == 1, err
    assert f"error[{code}]" in err and message in err, err
    if where:
        assert f"loops.yaml:{where}: error[{code}]" in err, err
    assert fix in err, err


def test_range_is_only_an_each_iterable(tmp_path, capsys):
    spec = tmp_path / "loops.yaml"
    text = BASE.replace("NODE", GOOD).replace("requires:", "let:\n  r: range(S)\nrequires:")
    spec.write_text(text)
    assert main(["check", "-q", str(spec)]) == 1
    assert "call of 'range' is not allowed" in capsys.readouterr().err


def test_an_each_over_a_list_suggests_zip_and_the_suggestion_works(tmp_path, capsys):
    """Issue 13 point 8: the note on an `each` node reading a list named 'map: true', which
    an `each` node refuses; it now names `zip:`, and following it checks."""
    node = "  convs: {each: i in range(S), in: parts, op: Conv2d, args: [channel // S, " \
           "channel // S, 1]}"
    status, err = _check(tmp_path, capsys, node)
    assert status == 1 and "error[E402]" in err, err
    assert "map: true" not in err, err
    fix = re.search(r"write '(zip: \w+)' in place of '(in: \w+)'", err)
    assert fix, err
    status, err = _check(tmp_path, capsys, node.replace(fix.group(2), fix.group(1)))
    assert status == 0, err


@pytest.mark.parametrize("text", [
    BASE.replace("NODE", GOOD),  # the base spec the errors above edit
    # a split without `out` is a list, which `zip` reads
    "name: Split\ninputs:\n  x: [B, 12, H, W]\ngraph:\n"
    "  parts: {op: split, in: x, split_size_or_sections: 4, dim: 1}\n"
    "  convs: {each: 'k in [1, 3, 5]', zip: parts, op: Conv2d, args: [4, 4, k],"
    " padding: k // 2, shape: [B, 4, H, W]}\n"
    "  out: {op: cat, in: convs, dim: 1, shape: [B, 12, H, W]}\noutputs: out\n",
], ids=["base", "split-without-out"])
def test_a_spec_with_loops_checks(tmp_path, capsys, text):
    spec = tmp_path / "loops.yaml"
    spec.write_text(text)
    assert main(["check", "-q", str(spec)]) == 0, capsys.readouterr().err


def test_a_variant_rename_rewires_zip(tmp_path, capsys):
    base = (SPECS / "psa_split.yaml").read_text()
    (tmp_path / "psa_split.yaml").write_text(base)
    variant = tmp_path / "renamed.yaml"
    variant.write_text("extends: psa_split.yaml\nname: PSARenamed\n"
                       "edits:\n  - {rename: parts, to: pieces}\n")
    assert main(["build", str(variant), "-o", str(tmp_path / "out")]) == 0, \
        capsys.readouterr().err
    source = (tmp_path / "out" / "renamed.py").read_text()
    assert "zip(self.convs, pieces, strict=True)" in source, source


@pytest.mark.parametrize("stem", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_a_loaded_loop_spec_rechecks_and_a_bad_zip_does_not(stem):
    """A Spec made in Python is checked again (recheck): range iterables, zip and seq loops
    pass as loaded; a zipped node with two inputs is refused."""
    import attngen
    from attngen.errors import SpecError

    spec = attngen.load(SPECS / f"{stem}.yaml").checked.spec
    assert attngen.compile(spec).__name__ == spec.name
    zipped = [n for n in spec.nodes.values() if getattr(n.form, "zipped", False)]
    for node in zipped[:1]:
        node.inputs = node.inputs * 2
        with pytest.raises(SpecError, match="'zip' reads one list"):
            attngen.compile(spec)


def test_verify_runs_the_loop_specs_at_other_sizes(capsys):
    """The checker takes a range bound at its default; `verify` runs the generated module at
    other values (S=5, 8, ...) and finds every runtime shape equal to the spec's."""
    specs = sorted(str(p) for p in SPECS.glob("*.yaml"))
    assert main(["verify", *specs]) == 0, capsys.readouterr().err


def test_range_bounds_pass_through_use_and_a_diamond_is_walked_once(tmp_path, capsys,
                                                                      monkeypatch):
    """A caller's int param passed to a sub-spec's `range` bound is checked at its default
    too (its `cat` of n maps is exact), and the bounds of a sub-spec shared along a `use:`
    diamond are found once per file, not once per path (2 ** depth)."""
    from attngen import loops

    depth = 12
    for i in range(depth):
        calls = f"  a: {{use: l{i + 1}.yaml, n: n, in: x}}\n" \
                f"  b: {{use: l{i + 1}.yaml, n: n, in: a}}\n" if i < depth - 1 else \
                "  r: {each: i in range(n), op: mul, in: x, other: i + 1}\n" \
                "  b: {op: add, in: r}\n"
        (tmp_path / f"l{i}.yaml").write_text(
            f"name: L{i}\nparams:\n  n: 3\ninputs:\n  x: [B, C]\ngraph:\n{calls}outputs: b\n")
    (tmp_path / "top.yaml").write_text(
        "name: Top\nparams:\n  n: 3\ninputs:\n  x: [B, C]\ngraph:\n"
        "  r: {each: i in range(n), use: l11.yaml, n: n, in: x}\n"
        "  c: {op: cat, in: r, dim: 1, shape: [B, C * n]}\noutputs: c\n")
    walked = []
    walk = loops._bounds
    monkeypatch.setattr(loops, "_bounds", lambda spec: walked.append(spec.name) or walk(spec))
    loops._BOUNDS.clear()
    spec = load(tmp_path / "l0.yaml", Loader())
    assert loops.bounds(spec) == {"n"}
    assert sorted(walked) == sorted(f"L{i}" for i in range(depth)), walked
    assert main(["check", "-q", str(tmp_path / "top.yaml")]) == 0, capsys.readouterr().err


def test_a_loop_body_reads_a_split_part_of_its_caller(tmp_path):
    """FocalNet-like: a body multiplies what it carries by the other half of a chunk; the
    `out:` name `b` was 'unknown' to the body (a new user's trial)."""
    import attngen

    path = tmp_path / "halves.yaml"
    path.write_text("""\
name: Halves
params:
  c: {default: 8}
  n: {default: 3}
requires: [c % 2 == 0]
inputs:
  x: [N, c, H, W]
graph:
  parts: {op: chunk, in: x, chunks: 2, dim: 1, out: [a, b],
          shape: [[N, c // 2, H, W], [N, c // 2, H, W]]}
  loop:
    each: i in range(n)
    in: a
    shape: [N, c // 2, H, W]
    body:
      m: {op: mul, in: [a, b]}
outputs: loop
""")
    module = attngen.compile(str(path))()
    x = torch.randn(2, 8, 3, 3)
    a, b = x.chunk(2, 1)
    torch.testing.assert_close(module(x), a * b * b * b)
