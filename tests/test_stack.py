"""Loop bodies: `each:` with `body:`, a graph run once per copy, each copy reading the value
the one before gave (a transformer's layers). The generated loop against hand-written
ones, the keys a hand-written nn.ModuleList of pairs gives, the parameter count, the
diagram, and the located errors of the construct."""

import textwrap

import attngen
import pytest
import torch
from attngen.cli import main
from attngen.counts import total
from attngen.loader import Loader, load
from conftest import REPO_ROOT
from equivalence import assert_equivalent, load_generated
from torch import nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BLOCKS = """\
name: Blocks
params:
  c: {type: int, example: 8}
  depth: {default: 2}
inputs:
  x: [B, N, c]
graph:
  pre: {op: Linear, args: [c, c], in: x}
  blocks:
    each: i in range(depth)
    in: pre
    shape: [B, N, c]
    body:
      fc: {op: Linear, args: [c, c], in: pre}
      act: {op: mul, in: fc, other: i + 1}
      res: {op: add, in: [act, pre]}
outputs: blocks
"""
SIDE = ("      act: {op: mul, in: fc, other: i + 1}\n",
        "      act: {op: mul, in: [fc, side]}\n")


class Blocks(nn.Module):
    """By hand: one Linear per copy, copy i scaled by i + 1, a residual around it."""

    def __init__(self, c, depth=2):
        super().__init__()
        self.pre = nn.Linear(c, c)
        self.blocks = nn.ModuleList(nn.Linear(c, c) for _ in range(depth))

    def forward(self, x):
        x = self.pre(x)
        for i, fc in enumerate(self.blocks):
            x = x + fc(x) * (i + 1)
        return x


def _build(tmp_path, text, name="spec"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return main(["build", str(path), "-o", str(tmp_path / "generated")])


def _errors(tmp_path, text, capsys):
    assert _build(tmp_path, text) == 1
    assert not (tmp_path / "generated" / "spec.py").exists()  # nothing half-written
    return capsys.readouterr().err


def test_one_layer_per_copy_is_held_flat_and_the_loop_variable_enumerates(tmp_path):
    assert _build(tmp_path, BLOCKS, "blocks") == 0
    source = (tmp_path / "generated" / "blocks.py").read_text()
    assert "self.blocks = nn.ModuleList([nn.Linear(c, c, **factory_kwargs) for _ in " \
           "range(depth)])" in source
    assert "for i, fc_layer in enumerate(self.blocks):" in source
    assert "class BlocksBlocks" not in source  # the body has no class of its own
    generated = load_generated("blocks", root=tmp_path).Blocks
    for args, kwargs, shape in [((8,), {}, (2, 5, 8)), ((6,), {"depth": 3}, (3, 4, 6)),
                                ((4,), {"depth": 0}, (2, 3, 4))]:
        assert_equivalent(generated, Blocks, args, kwargs, lambda s=shape: (torch.randn(*s),))


def test_a_pair_per_copy_keys_as_a_hand_written_module_list_of_pairs():
    gen = load_generated("mobilevit_transformer").MobileViTTransformer(8, 2, 2, 4, 16)
    keys = list(gen.state_dict())
    assert keys[:2] == ["layers.0.0.ln.weight", "layers.0.0.ln.bias"]
    assert "layers.0.0.fn.to_qkv.weight" in keys and "layers.1.1.fn.net.3.weight" in keys
    source = (REPO_ROOT / "generated" / "mobilevit_transformer.py").read_text()
    assert "for att_layer, ffn_layer in self.layers:" in source
    spec = load(REPO_ROOT / "specs" / "mobilevit_transformer.yaml", Loader())
    assert total(spec, {"dim": 8, "depth": 2, "heads": 2, "head_dim": 4, "mlp_dim": 16}) \
        == sum(p.numel() for p in gen.parameters())


def test_the_diagram_draws_the_body_once_with_its_loop(tmp_path):
    assert _build(tmp_path, BLOCKS, "blocks") == 0
    dot = (tmp_path / "generated" / "blocks.dot").read_text()
    assert 'subgraph "cluster_blocks"' in dot and "for i in range(depth), each copy on the last" \
        in dot


def test_a_body_of_tensor_functions_only_loops_without_layers(tmp_path):
    text = BLOCKS.replace("      fc: {op: Linear, args: [c, c], in: pre}\n", "").replace(
        "in: fc, other", "in: pre, other")
    assert _build(tmp_path, text, "funcs") == 0
    source = (tmp_path / "generated" / "funcs.py").read_text()
    assert "for i in range(self.depth):" in source and "self.blocks" not in source
    module = load_generated("funcs", root=tmp_path).Blocks(4, depth=3).eval()
    x = torch.randn(2, 3, 4)
    pre = module.pre(x)
    torch.testing.assert_close(module(x), pre * 2 * 3 * 4)  # x + x * (i + 1) = x (i + 2)


@pytest.mark.parametrize("edit, where, fragment", [
    (("      res: {op: add, in: [act, pre]}\n",
      "      res: {op: add, in: [act, pre]}\n      more: {op: cat, in: [res, res], dim: 2}\n"),
     "spec.yaml:12:", "E400]: node 'blocks': shape (B, N, 2*c) does not match annotation"),
    (("fc: {op: Linear, args: [c, c], in: pre}", "fc: {op: Linear, args: [c, c], in: ghost}"),
     "spec.yaml:14:", "a loop body reads the value it carries ('pre'), its own nodes, and"),
    (("    shape: [B, N, c]\n", ""), "spec.yaml:9:3:", "E103]: node 'blocks' (a loop body) "
     "needs 'shape: [...]'"),
    (("    each: i in range(depth)\n", ""), "spec.yaml:9:3:", "needs 'each: i in range(depth)'"),
    (("other: i + 1}", "other: i + 1, when: depth > 1}"), "spec.yaml:15:",
     "has 'when': a layer present in some copies only would change the keys"),
    (("  pre: {op: Linear, args: [c, c], in: x}\n",
      "  pre: {op: Linear, args: [c, c], in: x}\n  act: {op: ReLU, in: pre}\n"),
     "spec.yaml:16:7:", "E106]: body node 'act' reuses a name already defined at line 9"),
    ((BLOCKS[BLOCKS.index("    body:\n"):BLOCKS.index("outputs:")], "    body: {}\n"),
     "spec.yaml:13:", "E103]: 'body' of node 'blocks' has no nodes"),
    (("    shape: [B, N, c]\n", "    shape: [B, T, c]\n"), "spec.yaml:12:16:",
     "E202]: dim 'T' of the shape of node 'blocks' (a loop body) is not a dim of the spec's"),
    (("    in: pre\n", "    in: pre\n    map: true\n"), "spec.yaml:12:5:",
     "E101]: 'map' of node 'blocks' (a loop body)"),
    (("  pre: {op: Linear, args: [c, c], in: x}", "  pre: {op: chunk, in: x, chunks: 2, dim: 2}"),
     "spec.yaml:9:3:", "the body of 'blocks' reads one tensor, and 'pre' is a list of them"),
    (("      fc: {op: Linear, args: [c, c], in: pre}\n",
      "      fc: {op: Linear, args: [c, c], in: pre}\n      w: {param: [c], init: ones}\n"),
     "spec.yaml:15:11:", "has 'param': a tensor the class owns is a node outside the body"),
])
def test_errors_are_located_and_write_nothing(tmp_path, capsys, edit, where, fragment):
    old, new = edit
    assert old in BLOCKS
    err = _errors(tmp_path, BLOCKS.replace(old, new), capsys)
    assert where in err and fragment in err, err
    assert "Traceback" not in err


def test_a_variant_edits_the_node_with_the_body_not_its_nodes(tmp_path, capsys):
    (tmp_path / "blocks.yaml").write_text(BLOCKS, encoding="utf-8")
    deeper = tmp_path / "deeper.yaml"
    deeper.write_text("extends: blocks.yaml\nname: Deeper\nedits:\n  - patch: blocks\n"
                      "    set: {each: 'i in range(depth + 1)'}\n", encoding="utf-8")
    assert main(["build", str(deeper), "-o", str(tmp_path / "out")]) == 0
    assert "enumerate(self.blocks)" in (tmp_path / "out" / "deeper.py").read_text()
    inner = tmp_path / "inner.yaml"
    inner.write_text("extends: blocks.yaml\nname: Inner\nedits:\n  - patch: fc\n"
                     "    set: {bias: false}\n", encoding="utf-8")
    assert main(["build", str(inner), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "inner.yaml:4:12: error[E502]: no node 'fc' in the graph being edited" in err
    assert "'fc' is a node of the body of 'blocks': edits reach the graph's nodes" in err


def test_the_body_reads_its_dims_from_the_value_the_loop_carries(tmp_path):
    text = BLOCKS.replace("      res: {op: add, in: [act, pre]}\n", (
        "      flat: {op: view, in: act, to: [B, N * c]}\n"
        "      back: {op: view, in: flat, to: [B, N, c]}\n"
        "      res: {op: add, in: [back, pre]}\n"))
    assert _build(tmp_path, text, "dims") == 0
    source = (tmp_path / "generated" / "dims.py").read_text()
    loop = source[source.index("for i, fc_layer"):]
    assert "B, N, _ = blocks.shape" in loop, source
    generated = load_generated("dims", root=tmp_path).Blocks
    assert_equivalent(generated, Blocks, (6,), {"depth": 3}, lambda: (torch.randn(2, 5, 6),))


def test_a_hint_from_inside_the_body_works_pasted_into_the_spec(tmp_path, capsys):
    """The body takes the spec's requirements on the dims its input binds, so the line a
    hint inside it asks for holds there once pasted."""
    square = BLOCKS.replace("in: fc, other: i + 1}", "in: fc, other: i + 1}\n"
                            "      turned: {op: transpose, in: act, dim0: 1, dim1: 2}").replace(
        "in: [act, pre]", "in: [turned, pre]")
    err = _errors(tmp_path, square, capsys)
    assert "requires: [N == c]" in err, err
    pasted = square.replace("inputs:", "requires: [N == c]\ninputs:")
    assert _build(tmp_path, pasted, "square") == 0, capsys.readouterr().err


class Reads(nn.Module):
    """By hand: each copy adds the input x and multiplies by a gate made before the loop."""

    def __init__(self, c, depth=2):
        super().__init__()
        self.pre = nn.Linear(c, c)
        self.gate = nn.Linear(c, c)
        self.blocks = nn.ModuleList(nn.Linear(c, c) for _ in range(depth))

    def forward(self, x):
        h, side = self.pre(x), torch.sigmoid(self.gate(x))
        for fc in self.blocks:
            h = h + fc(h) * side + x
        return h


def test_a_body_reads_the_spec_s_inputs_and_its_earlier_annotated_nodes(tmp_path, capsys):
    """Read, never carried: the spec's input x and the node `side` (its `shape:` is what
    the body is checked with) are the same tensors in every copy."""
    text = BLOCKS.replace("  pre: {op: Linear, args: [c, c], in: x}\n", (
        "  pre: {op: Linear, args: [c, c], in: x}\n"
        "  gate: {op: Linear, args: [c, c], in: x}\n"
        "  side: {op: sigmoid, in: gate, shape: [B, N, c]}\n")).replace(*SIDE).replace(
        "      res: {op: add, in: [act, pre]}", "      res: {op: add, in: [act, pre, x]}")
    assert _build(tmp_path, text, "reads") == 0, capsys.readouterr().err
    source = (tmp_path / "generated" / "reads.py").read_text()
    assert "act = fc * side" in source, source
    generated = load_generated("reads", root=tmp_path).Blocks
    for depth in (0, 1, 3):
        assert_equivalent(generated, Reads, (6,), {"depth": depth},
                          lambda: (torch.randn(2, 5, 6),))
    # without its `shape:` the node's shape is not known before the caller is checked
    unannotated = text.replace("  side: {op: sigmoid, in: gate, shape: [B, N, c]}",
                               "  side: {op: sigmoid, in: gate}")
    err = _errors(tmp_path, unannotated, capsys)
    assert "node 'act' uses unknown 'side'" in err and "earlier nodes with a one-tensor" in err


def test_a_body_reads_a_buffer_with_its_dtype(tmp_path, capsys):
    """A bool buffer read in the body is checked as bool (a mask), read as `self.keep`."""
    text = BLOCKS.replace("  pre: {op: Linear, args: [c, c], in: x}\n", (
        "  pre: {op: Linear, args: [c, c], in: x}\n"
        "  keep: {buffer: [c], init: ones, dtype: bool}\n")).replace(
        "      act: {op: mul, in: fc, other: i + 1}",
        "      act: {op: masked_fill, in: [fc, keep], value: 0.0}")
    assert _build(tmp_path, text, "keep") == 0, capsys.readouterr().err
    source = (tmp_path / "generated" / "keep.py").read_text()
    assert "act = fc.masked_fill(self.keep, 0.0)" in source


def test_a_body_reads_an_optional_input_through_if_given(tmp_path):
    """An optional input of the spec reaches the body as one of its own: its nodes read it
    with `if_given`, each copy as the spec's forward would."""
    path = tmp_path / "opt.yaml"
    path.write_text("name: Opt\nparams:\n  depth: 2\ninputs:\n  x: [B, C]\n"
                    "  b: {shape: [B, C], optional: true}\ngraph:\n  layers:\n"
                    "    each: range(depth)\n    in: x\n    shape: [B, C]\n    body:\n"
                    "      biased: {op: add, in: [x, b], if_given: b}\n"
                    "      out: {op: relu, in: biased}\noutputs: layers\n")
    module = attngen.load(str(path)).compile()()
    x, b = torch.randn(3, 4), torch.randn(3, 4)
    expected = x
    for _ in range(2):
        expected = torch.relu(expected + b)
    torch.testing.assert_close(module(x, b), expected)
    torch.testing.assert_close(module(x), torch.relu(x))
    path.write_text(path.read_text().replace(", if_given: b}", "}"))  # read as if always given
    with pytest.raises(attngen.SpecError) as info:
        attngen.load(str(path))
    assert "E402" in str(info.value) and "add 'if_given: b' to the node" in str(info.value)


CARRY = """\
name: Carry
params:
  d: 4
  depth: 2
inputs:
  x: [B, N, d]
graph:
  stem: {op: Linear, args: [d, d], in: x, shape: [B, N, d]}
  layers:
    each: range(depth)
    in: stem
    shape: [B, N, d]
    body:
      fc: {op: Linear, args: [d, d], in: stem}
  pooled: {op: mean, dim: 1, in: layers}
  out: {op: relu, in: pooled}
outputs: out
"""


def test_a_loop_carrying_a_node_frees_its_start_once(tmp_path):
    """The loop frees the node it starts from (`del stem` after `layers = stem`); the
    value it ends with is freed later, without deleting `stem` a second time (a NameError
    at run time once; GFNet's blocks found it)."""
    import ast

    path = tmp_path / "carry.yaml"
    path.write_text(CARRY)
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out), "--no-svg"]) == 0
    tree = ast.parse((out / "carry.py").read_text())
    deleted = [t.id for node in ast.walk(tree) if isinstance(node, ast.Delete)
               for t in node.targets if isinstance(t, ast.Name)]
    assert deleted.count("stem") == 1 and len(deleted) == len(set(deleted)), deleted
    module = attngen.compile(path)()
    x = torch.randn(2, 3, 4)
    expected = module.stem(x)
    for layer in module.layers:
        expected = layer(expected)
    assert torch.allclose(module(x), torch.relu(expected.mean(1)))


PYRAMID = """\
name: Pyramid
params:
  c: {type: int, example: 4}
  depth: {default: 3}
inputs:
  x: [B, c, H, W]
requires:
  - H % 2 ** depth == 0
graph:
  stages:
    each: i in range(depth)
    in: x
    shape: [B, "c * 2 ** i", "H // 2 ** i", W]
    body:
      down: {op: Conv2d, args: ["c * 2 ** i", "c * 2 ** (i + 1)", [3, 1]], stride: [2, 1],
             padding: [1, 0], in: x, shape: [B, "c * 2 ** (i + 1)", "H // 2 ** (i + 1)", W]}
      act: {op: ReLU, in: down}
outputs: stages
"""


class Pyramid(nn.Module):
    """By hand: per copy a conv that halves the height and doubles the channels."""

    def __init__(self, c, depth=3):
        super().__init__()
        self.stages = nn.ModuleList(
            nn.ModuleList([nn.Conv2d(c * 2 ** i, c * 2 ** (i + 1), (3, 1), stride=(2, 1),
                                     padding=(1, 0)), nn.ReLU()]) for i in range(depth))

    def forward(self, x):
        for conv, act in self.stages:
            x = act(conv(x))
        return x


def test_a_body_s_shape_may_read_the_input_dims_in_expressions(tmp_path, capsys):
    """`H // 2 ** i`: a pyramid whose copies halve the height. The body's own check takes H
    free (the spec's `requires` on it hold there) and `depth` at its default."""
    assert _build(tmp_path, PYRAMID, "pyramid") == 0, capsys.readouterr().err
    generated = load_generated("pyramid", root=tmp_path).Pyramid
    for depth in (1, 3, 4):
        assert_equivalent(generated, Pyramid, (3,), {"depth": depth},
                          lambda: (torch.randn(2, 3, 32, 5),))
    assert main(["verify", str(tmp_path / "pyramid.yaml")]) == 0, capsys.readouterr().out


def test_a_pyramid_body_s_missing_requirement_is_found_with_its_fix(tmp_path, capsys):
    """Without `requires`, the conv of copy 0 gives (H + 1) // 2 where `down` says H // 2
    (the body's own check, at its first copy); with H even, copy 1 gives (H // 2 + 1) // 2
    where `down` says H // 4 (the spec's check, which runs every copy), and copy 2 asks
    for H % 8 == 0 assuming that."""
    loose = PYRAMID.replace("requires:\n  - H % 2 ** depth == 0\n", "")
    err = _errors(tmp_path, loose, capsys)
    assert "node 'down'" in err and "state it with requires: [H % 2 == 0]" in err, err
    even = loose.replace("inputs:", "requires: [H % 2 == 0]\ninputs:")
    err = _errors(tmp_path, even, capsys)
    assert "state it with requires: [H % 4 == 0]" in err, err
    assert "requires: [H % 8 == 0]" in err and "assuming requires: [H % 4 == 0]" in err, err
    pasted = loose.replace("inputs:", "requires: [H % 8 == 0]\ninputs:")
    assert _build(tmp_path, pasted, "pasted") == 0, capsys.readouterr().err


def test_a_body_s_forward_reads_the_caller_s_dims(tmp_path, capsys):
    """A view inside the body names H: forward unpacks it from the spec's input, once,
    before the loop (the body unpacks only what its carried value binds)."""
    viewed = PYRAMID.replace("      act: {op: ReLU, in: down}\n", (
        "      flat: {op: view, in: down, to: [B, 'c * 2 ** (i + 1)', 'H // 2 ** (i + 1) * W']}\n"
        "      back: {op: view, in: flat, to: [B, 'c * 2 ** (i + 1)', 'H // 2 ** (i + 1)', W]}\n"
        "      act: {op: ReLU, in: back}\n"))
    assert _build(tmp_path, viewed, "viewed") == 0, capsys.readouterr().err
    source = (tmp_path / "generated" / "viewed.py").read_text()
    head, loop = source.split("def forward")[1].split("for i, ")
    assert "_, _, H, _ = x.shape" in head and "H, " not in loop.split("\n")[1], source
    generated = load_generated("viewed", root=tmp_path).Pyramid
    assert_equivalent(generated, Pyramid, (3,), {"depth": 2}, lambda: (torch.randn(2, 3, 16, 5),))
