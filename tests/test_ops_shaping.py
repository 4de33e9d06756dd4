"""Shape ops, constants and einsum against torch: each op in a small spec, the generated
module run on concrete sizes, its output's shape compared with the checker's and its values
with the torch call written by hand."""

from __future__ import annotations

import attngen
import pytest
import sympy
from attngen.cli import main

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")


def spec_text(inputs: str, graph: str, out: str = "y", params: str = "") -> str:
    return (f"name: T\n{params}inputs:\n{inputs}graph:\n{graph}outputs: {out}\n")


def run(tmp_path, text: str, *tensors, outs=("y",), **params):
    """The generated module's outputs on `tensors`, each checked against the shape the
    checker inferred (free dims bound by the inputs' sizes, params by `params` or their
    defaults)."""
    path = tmp_path / "t.yaml"
    path.write_text(text)
    loaded = attngen.load(str(path))
    model = attngen.compile(loaded)(**params)
    result = model(*tensors)
    results = result if isinstance(result, tuple) else (result,)
    values = {**loaded.params, **params}  # by name: the checker's symbols carry assumptions
    for name, t in zip(loaded.spec.inputs, tensors, strict=True):
        for d, n in zip(loaded.dims(name), t.shape, strict=True):
            if isinstance(d, sympy.Symbol):
                values.setdefault(d.name, n)
    for name, got in zip(outs, results, strict=True):
        want = tuple(int(sympy.sympify(d).subs({s: values[s.name] for s in
                                                 sympy.sympify(d).free_symbols}))
                     for d in loaded.dims(name))
        assert tuple(got.shape) == want, (name, tuple(got.shape), want)
    return results if len(results) > 1 else results[0]


X4 = "  x: [B, C, H, W]\n"


def test_expand_repeats_size_one_dims_and_keeps_minus_one(tmp_path):
    text = spec_text("  x: [B, C, 1]\n", "  y: {op: expand, in: x, sizes: [2, -1, C, 5]}\n")
    x = torch.randn(3, 4, 1)
    assert torch.equal(run(tmp_path, text, x), x.expand(2, -1, 4, 5))


def test_expand_refuses_a_dim_that_is_not_one(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(
        spec_text("  x: [B, C]\n", "  y: {op: expand, in: x, sizes: [B, 4]}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "expand repeats only size-1 dims" in capsys.readouterr().err


def test_expand_as(tmp_path):
    text = spec_text("  x: [B, C, 1, 1]\n  z: [B, C, H, W]\n",
                     "  y: {op: expand_as, in: [x, z]}\n")
    x, z = torch.randn(2, 3, 1, 1), torch.randn(2, 3, 4, 5)
    assert torch.equal(run(tmp_path, text, x, z), x.expand_as(z))


def test_chunk_gives_equal_parts(tmp_path):
    text = spec_text("  x: [B, 3 * k, H, W]\n",
                     "  parts: {op: chunk, in: x, args: [3], dim: 1, out: [a, b, c]}\n"
                     "  y: {op: cat, in: [c, a], dim: 1}\n", params="params: {k: 2}\n")
    x = torch.randn(2, 6, 4, 5)
    a, _, c = torch.chunk(x, 3, dim=1)
    assert torch.equal(run(tmp_path, text, x), torch.cat([c, a], dim=1))


def test_chunk_of_a_symbolic_dim_must_divide(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(
        spec_text(X4, "  parts: {op: chunk, in: x, args: [2], dim: 1, out: [a, b]}\n", "a"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "error[E404]" in capsys.readouterr().err  # requires: C % 2 == 0


def test_chunk_of_a_number_follows_torch(tmp_path):
    """chunk(5, 3) on a dim of 5 is 2, 2, 1; the checker gives the same three shapes."""
    text = spec_text("  x: [B, 5]\n",
                     "  parts: {op: chunk, in: x, args: [3], dim: 1, out: [a, b, c]}\n", "c")
    x = torch.randn(2, 5)
    assert torch.equal(run(tmp_path, text, x, outs=("c",)), torch.chunk(x, 3, dim=1)[2])


def test_split_takes_an_int_size(tmp_path):
    """A dim that is a number splits as torch does (the last piece smaller)."""
    text = spec_text("  x: [B, 7]\n",
                     "  parts: {op: split, in: x, args: [3], dim: 1, out: [a, b, y]}\n")
    x = torch.randn(2, 7)
    assert torch.equal(run(tmp_path, text, x), torch.split(x, 3, dim=1)[2])  # size 1


@pytest.mark.parametrize("shape, size, message", [
    # C/2 pieces: no `requires` fixes their count, so no E404 asks for one (issue 13)
    ("[B, C]", "2", "dim 1 / size = C/2 pieces is not a number: a split by a size makes one "
                    "tensor per piece, so their count must be fixed; give the sizes as a list, "
                    "or use chunk with a number of chunks"),
    ("[B, c * k]", "c", "dim 1 / size = k pieces is not a number"),  # no count for out:
    # C // 4: four pieces once C is a multiple of 4, the line the E404 asks for
    ("[B, C]", "C // 4", "state it: requires: [C % 4 == 0]"),
])
def test_split_by_a_size_needs_a_count(tmp_path, capsys, shape, size, message):
    (tmp_path / "t.yaml").write_text(spec_text(
        f"  x: {shape}\n", f"  parts: {{op: split, in: x, args: [{size}], dim: 1, "
        "out: [a, y]}\n", params="params: {c: 2, k: 2}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert message in capsys.readouterr().err


def test_split_by_a_floor_division_of_its_dim(tmp_path):
    """`C // 4` pieces of C: the hint is `C % 4 == 0` (not `C % (C // 4) == 0`, which gives
    no count and divides by zero for C < 4), and with it the spec builds and runs."""
    text = spec_text("  x: [B, C]\n", "  parts: {op: split, in: x, args: [C // 4], dim: 1, "
                     "out: [a, b, c, y]}\n", params="requires: [C % 4 == 0]\n")
    x = torch.randn(2, 12)
    assert torch.equal(run(tmp_path, text, x), torch.split(x, 3, dim=1)[3])


@pytest.mark.parametrize("name", ["S", "X"])
@pytest.mark.parametrize("node", ["{op: select, in: x, dim: 1, index: 3}",
                                  "{op: slice, in: x, dim: 1, start: 3, stop: 4}"])
def test_an_index_past_small_sizes_is_found_whatever_the_samples(tmp_path, capsys, name, node):
    """The samples are drawn by the spec's name: for these two names none has C < 4, and
    the small sizes tried after them find C = 1 all the same (both passed unchecked)."""
    (tmp_path / "t.yaml").write_text(spec_text(X4, f"  y: {node}\n").replace("T", name, 1))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E404]" in err and "requires: [C >= 4]" in err, err


@pytest.mark.parametrize("graph", [
    "  y: {op: slice, in: x, dim: 1, stop: 4, shape: [B, 4, H, W]}\n",
    "  s: {op: slice, in: x, dim: 1, stop: 4}\n  y: {op: Conv2d, args: [4, 4, 1], in: s}\n",
])
def test_a_slice_taken_for_its_full_length_asks_for_the_dim(tmp_path, capsys, graph):
    """x[:, :4] keeps min(4, C): as 4 channels (an annotation, a conv of 4), the spec relies
    on C >= 4, which its name's random samples never broke (it passed, and the module failed
    for C < 4). The small sizes break it, the hint states it, and pasted, the spec checks
    and the forward refuses C = 3."""
    text = spec_text(X4, graph).replace("name: T", "name: S")
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E404]" in err and "this holds only when C >= 4: if the module relies on it, " \
        "state it with requires: [C >= 4]" in err, err
    text = text.replace("inputs:", "requires: [C >= 4]\ninputs:")
    assert run(tmp_path, text, torch.randn(2, 6, 3, 3)).shape == (2, 4, 3, 3)
    with pytest.raises(ValueError, match="C >= 4"):
        run(tmp_path, text, torch.randn(2, 3, 3, 3))


def test_a_bound_the_defaults_break_is_no_hint(tmp_path, capsys):
    """min(4, c) as 4 with c = 2 by default: `requires: [c >= 4]` would fail at the defaults
    (E405), so the error is the mismatch, with no line to paste."""
    text = spec_text("  x: [B, c, H, W]\n", "  y: {op: slice, in: x, dim: 1, stop: 4, "
                     "shape: [B, 4, H, W]}\n", params="params: {c: 2}\n")
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E400]" in err and "requires" not in err, err


@pytest.mark.parametrize("params, inputs, message", [
    ("", "  x: [B, 2, H, W]\n", "error[E403]: node 'y': index 3 is out of range for dim 1 of "
     "size 2\n"),
    ("params: {c: 2}\n", "  x: [B, c, H, W]\n", "error[E402]: node 'y': index 3 of dim 1 "
     "needs c >= 4, which the defaults break\n"),
])
def test_a_select_the_sizes_rule_out_is_an_error(tmp_path, capsys, params, inputs, message):
    (tmp_path / "t.yaml").write_text(spec_text(inputs, "  y: {op: select, in: x, dim: 1, "
                                               "index: 3}\n", params=params))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert message in err and "state it" not in err, err


def test_a_select_at_a_dim_s_own_size_is_out_of_range(tmp_path, capsys):
    """CaiT's class token is `index: 0`; `index: N` on a dim of N said "slice keeps 0 = 0
    elements"."""
    (tmp_path / "t.yaml").write_text(spec_text("  x: [B, N, C]\n", "  y: {op: select, in: x, "
                                               "dim: 1, index: N}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert "select's index N on dim 1 needs N >= 1 + N, which fails" in err, err


@pytest.mark.parametrize("node, need, index", [
    ("{op: select, in: x, dim: 1, index: 3}", "C >= 4", 3),
    ("{op: slice, in: x, dim: 1, start: 2, stop: 3}", "C >= 3", 2),
])
def test_an_index_past_a_small_input_dim_asks_for_it(tmp_path, capsys, node, need, index):
    """x[:, 3] of x: [B, C, H, W] fails at run time for C < 4, which no default rules out:
    check asks for the requirement (issue 13, soundness), and with it the spec runs."""
    text = spec_text(X4, f"  y: {node}\n")
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "error[E404]" in (err := capsys.readouterr().err) and f"requires: [{need}]" in err
    x = torch.randn(2, 4, 3, 3)
    fixed = text.replace("inputs:", f"requires: [{need}]\ninputs:")
    assert torch.equal(run(tmp_path, fixed, x).reshape(2, 3, 3), x[:, index])


@pytest.mark.parametrize("node, need, pick", [
    ("{op: slice, in: x, dim: 1, start: 1}", "C >= 2", lambda x: x[:, 1:]),
    ("{op: slice, in: x, dim: 1, stop: -2}", "C >= 3", lambda x: x[:, :-2]),
    ("{op: slice, in: x, dim: 1, start: 1, stop: -1}", "C >= 3", lambda x: x[:, 1:-1]),
])
def test_a_slice_that_drops_elements_asks_for_the_dim(tmp_path, capsys, node, need, pick):
    """x[:, 1:] keeps nothing for C = 1, x[:, :-2] nothing for C <= 2: each asks for its
    bound with the line to paste (it was E403 with no line), and with it the spec runs and
    its forward refuses the smaller dim."""
    text = spec_text(X4, f"  y: {node}\n")
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E404]" in err and f"state it: requires: [{need}]" in err, err
    fixed = text.replace("inputs:", f"requires: [{need}]\ninputs:")
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(run(tmp_path, fixed, x), pick(x))
    with pytest.raises(ValueError, match=need):
        run(tmp_path, fixed, torch.randn(2, int(need[-1]) - 1, 3, 3))


@pytest.mark.parametrize("node, pick", [
    ("{op: slice, in: x, dim: 1, start: -3}", lambda x: x[:, -3:]),
    ("{op: select, in: x, dim: 1, index: -3}", lambda x: x[:, -3]),
])
def test_a_start_from_the_end_past_a_small_input_dim_asks_for_it(tmp_path, capsys, node, pick):
    """x[:, -3:] keeps 3 channels only where C >= 3 (torch clamps the start: C = 2 keeps 2,
    and x[:, -3] raises): check asks for it, and with it the spec runs."""
    text = spec_text(X4, f"  y: {node}\n")
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "error[E404]" in (err := capsys.readouterr().err) and "requires: [C >= 3]" in err
    x = torch.randn(2, 5, 3, 3)
    fixed = text.replace("inputs:", "requires: [C >= 3]\ninputs:")
    assert torch.equal(run(tmp_path, fixed, x).reshape(pick(x).shape), pick(x))


def test_a_split_piece_made_of_input_dims_is_at_least_one_for_every_size(tmp_path, capsys):
    """[2, C - 2] splits C = 1 into a negative piece (torch raises): check asks for C >= 2
    (an empty piece torch takes) although the default C is large, and with it the spec runs."""
    text = spec_text("  x: [B, C]\n", "  parts: {op: split, in: x, args: [[2, C - 2]], "
                     "dim: 1, out: [a, y]}\n")
    (tmp_path / "t.yaml").write_text(text)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "error[E404]" in (err := capsys.readouterr().err) and "requires: [C >= 2]" in err
    x = torch.randn(2, 5)
    fixed = text.replace("inputs:", "requires: [C >= 2]\ninputs:")
    assert torch.equal(run(tmp_path, fixed, x), x[:, 2:])


def test_split_by_a_size_param(tmp_path):
    text = spec_text("  x: [B, C]\n",
                     "  parts: {op: split, in: x, args: [s], dim: 1, out: [a, y]}\n",
                     params="params: {s: 3}\n")
    text = text.replace("inputs:\n  x: [B, C]", "inputs:\n  x: [B, 2 * s]")
    x = torch.randn(2, 6)
    assert torch.equal(run(tmp_path, text, x), torch.split(x, 3, dim=1)[1])


# each with the `requires` its sizes need, as check asks (x[:, 2] needs C >= 3; a crop
# or a window wider than 1 a dim large enough to keep one element)
@pytest.mark.parametrize("node, requires, call", [
    ("{op: flatten, in: x, start_dim: 1}", "", lambda x: torch.flatten(x, 1)),
    ("{op: flatten, in: x, start_dim: 1, end_dim: 2}", "", lambda x: torch.flatten(x, 1, 2)),
    ("{op: flatten, in: x}", "", torch.flatten),
    ("{op: roll, in: x, shifts: [1, -2], dims: [2, 3]}", "",
     lambda x: torch.roll(x, (1, -2), (2, 3))),
    ("{op: roll, in: x, shifts: 3}", "", lambda x: torch.roll(x, 3)),
    ("{op: flip, in: x, dims: -1}", "", lambda x: torch.flip(x, (-1,))),
    ("{op: flip, in: x, dims: [0, 2]}", "", lambda x: torch.flip(x, (0, 2))),
    ("{op: select, in: x, dim: 1, index: 2}", "C >= 3", lambda x: x.select(1, 2)),
    ("{op: select, in: x, dim: -1, index: -1}", "", lambda x: x[..., -1]),
    ("{op: pad, in: x, pad: [1, 2]}", "", lambda x: F.pad(x, (1, 2))),
    ("{op: pad, in: x, pad: [1, 1, 0, 2], value: 0.5}", "",
     lambda x: F.pad(x, (1, 1, 0, 2), value=0.5)),
    ("{op: pad, in: x, pad: [-1, 0]}", "W >= 2", lambda x: F.pad(x, (-1, 0))),
    ("{op: unfold, in: x, kernel_size: 3, padding: 1}", "", lambda x: F.unfold(x, 3, padding=1)),
    ("{op: unfold, in: x, args: [[2, 2]], stride: 2, dilation: [1, 2]}", "H >= 2, W >= 3",
     lambda x: F.unfold(x, (2, 2), stride=2, dilation=(1, 2))),
    ("{op: Unfold, in: x, kernel_size: 2, stride: 2}", "H >= 2, W >= 2",
     lambda x: F.unfold(x, 2, stride=2)),
    ("{op: zeros_like, in: x}", "", torch.zeros_like),
    ("{op: ones_like, in: x}", "", torch.ones_like),
    ("{op: full_like, in: x, fill_value: -2.5}", "", lambda x: torch.full_like(x, -2.5)),
    ("{op: zeros, in: x, size: [C, H]}", "", lambda x: torch.zeros(x.shape[1], x.shape[2])),
    ("{op: ones, in: x, size: [2, W]}", "", lambda x: torch.ones(2, x.shape[3])),
    ("{op: full, in: x, size: [W], fill_value: 7}", "", lambda x: torch.full((x.shape[3],), 7.)),
    ("{op: tensor, in: x, data: [1.0 / H, W, 0.5]}", "",
     lambda x: torch.tensor([1.0 / x.shape[2], x.shape[3], 0.5])),
    ("{op: eye, in: x, n: H}", "", lambda x: torch.eye(x.shape[2])),
    ("{op: eye, in: x, n: H, m: W}", "", lambda x: torch.eye(x.shape[2], x.shape[3])),
    ("{op: arange, in: x, end: W}", "", lambda x: torch.arange(x.shape[3])),
    ("{op: arange, in: x, end: W, start: 1, step: 2}", "W >= 2",
     lambda x: torch.arange(1, x.shape[3], 2)),
    ("{op: arange, in: x, end: W, step: 3}", "", lambda x: torch.arange(0, x.shape[3], 3)),
    ("{op: arange, in: x, args: [W, 2]}", "W >= 3", lambda x: torch.arange(2, x.shape[3])),
    ("{op: einsum, equation: 'bchw->bhwc', in: x}", "", lambda x: x.permute(0, 2, 3, 1)),
    ("{op: einsum, equation: 'bchw', in: x}", "", lambda x: x.permute(0, 1, 2, 3)),
    ("{op: einsum, equation: '...hw->...', in: x}", "", lambda x: x.sum((2, 3))),
    ("{op: einsum, equation: 'bchw->c', in: x}", "", lambda x: x.sum((0, 2, 3))),
])
@pytest.mark.parametrize("sizes", [(2, 3, 5, 7), (1, 4, 4, 6)])
def test_one_input_ops_match_torch(tmp_path, node, requires, call, sizes):
    text = spec_text(X4, f"  y: {node}\n", params=f"requires: [{requires}]\n" * bool(requires))
    x = torch.randn(*sizes)
    got = run(tmp_path, text, x)
    assert got.dtype == call(x).dtype
    assert torch.allclose(got, call(x), atol=1e-5)


@pytest.mark.parametrize("pad, mode, requires", [
    ([2, 2, 1, 1], "reflect", "H >= 2, W >= 3"),  # each side less than the dim
    ([4, 4, 1, 0], "circular", "H >= 1, W >= 4"),  # at most the dim
    ([-1, 3, 0, 0], "circular", "W >= 4"),  # 3 wrapped from what the crop of 1 leaves
    ([3, 5, 1, 0], "replicate", ""),  # any amount
])
def test_padding_modes_match_torch_where_requires_bounds_the_dims(tmp_path, pad, mode,
                                                                 requires):
    text = spec_text(X4, f"  y: {{op: pad, in: x, pad: {pad}, mode: {mode}}}\n",
                     params=f"requires: [{requires}]\n" if requires else "")
    for sizes in [(2, 3, 5, 7), (1, 4, 2, 4)]:
        x = torch.randn(*sizes)
        assert torch.equal(run(tmp_path, text, x), F.pad(x, pad, mode=mode))


@pytest.mark.parametrize("pad, mode, fact", [
    ([2, 2, 0, 0], "reflect", "W >= 3"),
    ([0, 0, 2, 2], "reflect", "H >= 3"),
    ([4, 4, 0, 0], "circular", "W >= 4"),
    ([-1, 3, 0, 0], "circular", "W >= 4"),
])
def test_reflect_and_circular_padding_state_their_bound_in_requires(tmp_path, capsys, pad,
                                                                    mode, fact):
    """torch refuses reflect padding of a dim by its size or more, and circular padding
    past it: the checker asks for the bound for every size, with the line to state it."""
    path = tmp_path / "t.yaml"
    path.write_text(spec_text(X4, f"  y: {{op: pad, in: x, pad: {pad}, mode: {mode}}}\n"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "t.yaml:5:3: error[E404]" in err and f"requires: [{fact}]" in err, err
    path.write_text(spec_text(X4, f"  y: {{op: pad, in: x, pad: {pad}, mode: {mode}}}\n",
                              params=f"requires: [{fact}]\n"))
    assert main(["check", "-q", str(path)]) == 0, capsys.readouterr().err


def test_fold_inverts_unfold_for_disjoint_blocks(tmp_path):
    text = spec_text("  x: [B, C, 2 * h, 2 * w]\n",
                     "  cols: {op: unfold, in: x, kernel_size: 2, stride: 2}\n"
                     "  y: {op: fold, in: cols, output_size: [2 * h, 2 * w], kernel_size: 2, "
                     "stride: 2}\n", params="params: {h: 2, w: 3}\n")
    x = torch.randn(2, 3, 4, 6)
    assert torch.equal(run(tmp_path, text, x), x)
    text = text.replace("op: fold", "op: Fold")
    assert torch.equal(run(tmp_path, text, x), x)


def test_fold_sums_overlapping_blocks(tmp_path):
    """The output size is not fixed by the input's dims: H and W are params here."""
    text = spec_text("  x: [B, c * 9, H * W]\n",
                     "  y: {op: fold, in: x, args: [[H, W], 3], padding: 1}\n",
                     params="params: {c: 2, H: 4, W: 5}\n")
    x = torch.randn(2, 18, 20)
    assert torch.allclose(run(tmp_path, text, x), F.fold(x, (4, 5), 3, padding=1))


@pytest.mark.parametrize("equation, shapes, call", [
    ("bhqd,bhkd->bhqk", ["[B, h, n, d]", "[B, h, m, d]"],
     lambda q, k: q @ k.transpose(-2, -1)),
    ("bij,bjk", ["[B, n, d]", "[B, d, m]"], lambda a, b: torch.bmm(a, b).sum(0)),
    ("...ij,...jk->...ik", ["[B, h, n, d]", "[h, d, m]"], torch.matmul),
    ("i,j->ij", ["[n]", "[m]"], torch.outer),
])
def test_einsum_matches_torch(tmp_path, equation, shapes, call):
    text = spec_text(f"  a: {shapes[0]}\n  b: {shapes[1]}\n",
                     f"  y: {{op: einsum, equation: '{equation}', in: [a, b]}}\n")
    dims = {"B": 2, "h": 3, "n": 4, "d": 5, "m": 6}
    a, b = (torch.randn(*(dims[s.strip()] for s in shape.strip("[]").split(",")))
            for shape in shapes)
    assert torch.allclose(run(tmp_path, text, a, b), call(a, b), atol=1e-5)


@pytest.mark.parametrize("equation, message", [
    ("bhqd,bhkd->bhqk", "'d' (dim 3 of input 1)"),  # d of k is not d of q
    ("bhqd,bhk1->bhqk", "has '1' at column 9"),
    ("bh..qd,bhkd->bhqk", "dots that are not one '...'"),
    ("bhqd->bhqd", "1 input term(s) for 2 input(s)"),
    ("bhqd,bhkd->bhqz", "output letter 'z' names no input dim"),
    ("bhqd,bhkd->bhqq", "output letter 'q' occurs twice"),
    ("bhqd,bhkd->bhqk->b", "more than one '->'"),
    ("bhqd,bhkd->bhq...", "'...' in the output but in no input"),
    ("bhq,bhkd->bhqk", "einsum term 'bhq' names 3 dims; input 0 has 4"),
])
def test_einsum_errors_are_located(tmp_path, capsys, equation, message):
    (tmp_path / "t.yaml").write_text(spec_text(
        "  q: [B, h, n, d]\n  k: [B, h, m, e]\n",
        f"  y: {{op: einsum, equation: '{equation}', in: [q, k]}}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert message in err and "t.yaml:" in err, err


@pytest.mark.parametrize("node, message", [
    ("{op: pad, in: x, pad: [1, 2, 3]}", "an even number"),
    ("{op: pad, in: x, pad: [1, 2], mode: reflect, value: 1.0}", "'value' fills only"),
    ("{op: pad, in: x, pad: [7, 7, 0, 0], mode: reflect}", "reflect padding"),
    ("{op: pad, in: x, pad: [1, 1], mode: replicate}", "2 or 3 dims of a 4-D input, here 1"),
    ("{op: pad, in: x, pad: [1, 1], mode: wrap}", "one of 'constant'"),
    ("{op: select, in: x, dim: 1, index: 9}", "index 9 of dim 1 needs C >= 10"),
    ("{op: roll, in: x, shifts: [1, 2], dims: 1}", "2 shifts for 1 dims"),
    ("{op: flip, in: x, dims: [1, -3]}", "dims [1, -3] name a dim twice"),
    ("{op: tensor, in: x, data: 0.5}", "'data' is a list of numbers"),
    ("{op: chunk, in: x, chunks: k}", "'chunks' must be a number"),
    ("{op: shift, in: x, shifts: k, dim: 1}", "'shifts' must be a number"),
    ("{op: shift, in: x, shifts: 0, dim: 1}", "'shifts' is 0"),
    ("{op: shift, in: x, shifts: 1, dim: 4}", "dim 4 is out of range"),
    ("{op: unfold, in: x, kernel_size: [2, 2, 2]}", "3 values for 2 spatial dims"),
    ("{op: fold, in: x, output_size: [H, W], kernel_size: 2}", "fold input"),
    ("{op: expand, in: x, sizes: [-1, B, C, H, W]}", "-1 for a new leading dim"),
    ("{op: arange, in: x, end: 2, start: 3}", "must be at least 1"),
    ("{op: eye, in: x, n: 0}", "must be at least 1"),
])
def test_bad_arguments_are_located_errors(tmp_path, capsys, node, message):
    (tmp_path / "t.yaml").write_text(spec_text(X4, f"  y: {node}\n", params="params: {k: 2}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    err = capsys.readouterr().err
    assert message in err and "t.yaml:" in err, err


def test_constants_sit_on_the_inputs_dtype(tmp_path):
    """A bool `eye` (a diagonal mask) from a bool input fills a float tensor's diagonal."""
    text = spec_text("  x: [B, n, n]\n  m: {shape: [n, n], dtype: bool}\n",
                     "  diag: {op: eye, in: m, n: n}\n"
                     "  y: {op: masked_fill, in: [x, diag], value: -1.0e9}\n")
    x, m = torch.randn(2, 3, 3), torch.zeros(3, 3, dtype=torch.bool)
    want = x.masked_fill(torch.eye(3, dtype=torch.bool), -1.0e9)
    assert torch.equal(run(tmp_path, text, x, m), want)


@pytest.mark.parametrize("graph, message", [
    ("  y: {op: einsum, equation: 'ij->ji', in: m}\n",
     "einsum takes float or complex tensors as input 0, not bool ones"),
    ("  y: {op: unfold, in: m, kernel_size: 2}\n", "not bool ones"),
    ("  y: {op: pad, in: m, pad: [1, 1], mode: replicate}\n", "pads float tensors, not bool"),
    ("  i: {op: arange, in: m, end: n}\n  y: {op: softmax, in: i, dim: 0}\n",
     "softmax takes float tensors as input 0, not int ones"),
])
def test_dtype_rules_are_enforced(tmp_path, capsys, graph, message):
    """arange gives integers whatever its input; einsum and unfold take no bools."""
    (tmp_path / "t.yaml").write_text(
        spec_text("  m: {shape: [n, n, n, n], dtype: bool}\n", graph))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("node", ["{op: zeros, in: x, size: [C, 2]}",
                                  "{op: full, in: x, size: [C], fill_value: 1.5}",
                                  "{op: ones_like, in: x}", "{op: eye, in: x, n: C}",
                                  "{op: arange, in: x, end: C}"])
def test_constants_are_made_on_the_inputs_device(tmp_path, node):
    """Run on torch's `meta` device (no GPU needed): a constant made on the CPU would show."""
    (tmp_path / "t.yaml").write_text(spec_text(X4, f"  y: {node}\n"))
    model = attngen.compile(str(tmp_path / "t.yaml"))()
    assert model(torch.empty(2, 3, 4, 5, device="meta")).device.type == "meta"


MIX = """\
name: Mix
params: {k: 3, heads: 2}
requires: [H >= 2, W >= 2, H + 2 >= k, W + 2 >= k]  # reflect pads, unfold's windows fit
inputs:
  x: [B, 4, H, W]
  q: [B, heads, 2, D]
  kk: [B, heads, M, D]
graph:
  padded: {op: pad, in: x, pad: [1, 1, 1, 1], mode: reflect}
  cols:   {op: unfold, in: padded, kernel_size: k}
  image:  {op: fold, in: cols, args: [[H + 2, W + 2], k]}
  parts:  {op: chunk, in: image, args: [2], dim: 1, out: [p0, p1]}
  att:    {op: einsum, equation: 'bhqd, bhkd -> bhqk', in: [q, kk]}
  rolled: {op: roll, in: att, shifts: [1, 2], dims: [-2, -1]}
  sel:    {op: select, in: rolled, dim: 1, index: 0}
  diag:   {op: eye, in: sel, n: 2, m: M}
  big:    {op: expand, in: diag, sizes: [B, -1, -1]}
  y:      {op: add, in: [sel, big]}
  flat:   {op: flatten, in: y, start_dim: 1}
  halves: {op: split, in: flat, args: [M], dim: 1, out: [z0, z1]}
outputs: [flat, p1, z1]
"""


def test_verify_finds_every_runtime_shape_equal_to_the_checkers(tmp_path):
    """On random params and dims (fold's channels, C * k**2 / k**2, are a whole number
    there too: they were 4.0 once, and chunk refused them)."""
    from attngen import verify

    path = tmp_path / "mix.yaml"
    path.write_text(MIX)
    report = verify.verify(attngen.load(str(path)).checked, n_samples=4, export=False)
    assert not report.errors, report.errors


def _shifted(x, s, dim):
    """`x` with its elements moved s places along dim, as a copy assigned into a clone (the
    places they leave keep their values)."""
    out, n = x.clone(), x.shape[dim]
    if s > 0:
        out.narrow(dim, s, n - s).copy_(x.narrow(dim, 0, n - s))
    else:
        out.narrow(dim, 0, n + s).copy_(x.narrow(dim, -s, n + s))
    return out


@pytest.mark.parametrize("shifts, dim", [(1, 1), (-1, 1), (2, 3), (-3, -1), (1, -2)])
def test_shift_moves_elements_and_keeps_the_vacated_places(tmp_path, shifts, dim):
    text = spec_text(X4, f"  y: {{op: shift, in: x, shifts: {shifts}, dim: {dim}}}\n")
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(run(tmp_path, text, x), _shifted(x, shifts, dim))


@pytest.mark.parametrize("s", [1, -2])
def test_a_shift_given_by_a_param_is_decided_at_run_time(tmp_path, s):
    text = spec_text(X4, "  y: {op: shift, in: x, shifts: s, dim: 2}\n",
                     params="params:\n  s: {default: 1, choices: [1, -2]}\n")
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(run(tmp_path, text, x, s=s), _shifted(x, s, 2))


def test_shift_is_a_shift_where_an_overlapping_in_place_copy_smears(tmp_path):
    """`x[:, 1:] = x[:, :-1]` reads what it has just written (S2Attention's original):
    row 0 is copied down the whole dim; the op moves each row by one."""
    text = spec_text(X4, "  y: {op: shift, in: x, shifts: 1, dim: 1}\n")
    x = torch.randn(2, 6, 4, 5)
    smeared = x.clone()
    smeared[:, 1:] = smeared[:, :-1]
    y = run(tmp_path, text, x)
    assert torch.equal(y[:, 1:], x[:, :-1]) and torch.equal(y[:, :1], x[:, :1])
    assert not torch.equal(y, smeared)
@pytest.mark.parametrize("dtype, family", [("bool", torch.bool), ("long", torch.long)])
def test_eye_with_a_dtype_is_a_mask_of_that_dtype_from_a_float_input(tmp_path, dtype, family):
    """`dtype: bool` gives a diagonal mask from a float input (CrissCross masks its own
    position with it); the checker follows the dtype (a bool one reaches masked_fill)."""
    text = spec_text("  x: [B, n, n]\n",
                     f"  diag: {{op: eye, in: x, n: n, dtype: {dtype}}}\n"
                     "  y: {op: identity, in: diag}\n")
    got = run(tmp_path, text, torch.randn(2, 3, 3))
    assert got.dtype == family and torch.equal(got, torch.eye(3, dtype=family))
    shown = attngen.load(str(tmp_path / "t.yaml")).checked.shape_text("diag", dtype=True)
    assert shown == "(n, n) " + {"bool": "bool", "long": "int"}[dtype]


def test_eye_s_dtype_is_checked_like_any_tensor_s(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(spec_text(
        X4, "  i: {op: eye, in: x, n: H, dtype: long}\n  y: {op: softmax, in: i, dim: 0}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "softmax takes float tensors as input 0, not int ones" in capsys.readouterr().err
    (tmp_path / "t.yaml").write_text(spec_text(X4, "  y: {op: eye, in: x, n: H, dtype: int8}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "one of 'bool', 'long'" in capsys.readouterr().err


@pytest.mark.parametrize("op, pool", [("AvgPool2d", torch.nn.functional.avg_pool2d),
                                      ("MaxPool2d", torch.nn.functional.max_pool2d),
                                      ("max_pool2d", torch.nn.functional.max_pool2d)])
@pytest.mark.parametrize("size", [(7, 5), (6, 9), (1, 4)])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), (3, 3, 0)])
def test_pooling_with_ceil_mode_rounds_up_as_torch_does(tmp_path, op, pool, size, kernel,
                                                        stride, padding):
    text = spec_text(X4, f"  y: {{op: {op}, kernel_size: {kernel}, stride: {stride}, "
                         f"padding: {padding}, ceil_mode: true, in: x}}\n")
    x = torch.randn(2, 3, *size)
    want = pool(x, kernel, stride, padding, ceil_mode=True)
    assert torch.equal(run(tmp_path, text, x), want)  # run() compares the checker's shape


def test_ceil_mode_needs_stride_at_most_kernel_minus_padding(tmp_path, capsys):
    """Past that, torch drops a last window that starts beyond the input: a size the shape
    rule does not follow, so it is refused."""
    (tmp_path / "t.yaml").write_text(spec_text(
        X4, "  y: {op: AvgPool2d, kernel_size: 2, stride: 3, ceil_mode: true, in: x}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "kernel_size - padding - stride with ceil_mode is -1" in capsys.readouterr().err


@pytest.mark.parametrize("op, pool", [("AvgPool1d", torch.nn.functional.avg_pool1d),
                                      ("MaxPool1d", torch.nn.functional.max_pool1d)])
@pytest.mark.parametrize("length", [7, 6, 2])
@pytest.mark.parametrize("kernel, stride, padding, ceil", [(2, 2, 0, False), (3, 2, 1, True),
                                                           (2, None, 0, True)])
def test_1d_pooling_over_the_last_dim_as_torch_does(tmp_path, op, pool, length, kernel,
                                                    stride, padding, ceil):
    """CoAtNet pools its tokens, channels first, with MaxPool1d."""
    given = "" if stride is None else f"stride: {stride}, "
    text = spec_text("  x: [B, C, L]\n", f"  y: {{op: {op}, kernel_size: {kernel}, {given}"
                     f"padding: {padding}, ceil_mode: {str(ceil).lower()}, in: x}}\n",
                     params="requires: [L >= 2]\n")  # an unpadded window of 2 needs it
    x = torch.randn(2, 3, length)
    want = pool(x, kernel, stride, padding, ceil_mode=ceil)
    assert torch.equal(run(tmp_path, text, x), want)  # run() compares the checker's shape


def test_1d_pooling_takes_three_dims(tmp_path, capsys):
    node = "  y: {op: MaxPool1d, kernel_size: 2, in: x}\n"
    (tmp_path / "t.yaml").write_text(spec_text(X4, node))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "pooling input" in capsys.readouterr().err


@pytest.mark.parametrize("start, stop, step", [(None, None, 2), (1, None, 2), (0, 7, 3),
                                               (1, -1, 2), (-5, None, 4), (None, None, 1)])
@pytest.mark.parametrize("length", [7, 8, 12])
def test_a_stepped_slice_keeps_every_step_th_element_as_python_does(tmp_path, start, stop,
                                                                    step, length):
    """`x[:, ::2]`: the length is ceil((stop - start) / step), checked against torch."""
    given = "".join(f", {k}: {v}" for k, v in (("start", start), ("stop", stop), ("step", step))
                    if v is not None)
    text = spec_text("  x: [B, L]\n", f"  y: {{op: slice, in: x, dim: 1{given}}}\n",
                     params="requires: [L >= 7]\n")
    x = torch.randn(2, length)
    assert torch.equal(run(tmp_path, text, x), x[:, slice(start, stop, step)])


def test_a_stepped_slice_with_a_param_dim_and_the_focus_layout(tmp_path):
    """YOLOv5's Focus: the four pixels of each 2 x 2 cell as channels (an even map: the
    checker proves the strided halves equal, so they concatenate)."""
    text = spec_text(X4, "  a: {op: slice, in: x, dim: 2, step: 2}\n"
                         "  b: {op: slice, in: x, dim: 2, start: 1, step: 2}\n"
                         "  y: {op: cat, in: [a, b], dim: 1}\n",
                     params="requires: [H % 2 == 0]\n")
    x = torch.randn(2, 3, 6, 5)
    assert torch.equal(run(tmp_path, text, x), torch.cat([x[:, :, ::2], x[:, :, 1::2]], 1))


def test_a_step_below_one_is_refused(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(spec_text(X4, "  y: {op: slice, in: x, dim: 2, step: 0}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "slice's 'step' is 0 at the default sizes (must be at least 1)" in \
        capsys.readouterr().err


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linspace_is_torchs_in_the_inputs_dtype(tmp_path, dtype):
    """ACmix's position grid: W values from -1 to 1 (both included) per row; one step gives
    the start, as torch does."""
    text = spec_text(X4, "  xs: {op: linspace, in: x, start: -1.0, end: 1.0, steps: W}\n"
                         "  ys: {op: linspace, in: x, steps: H}\n"
                         "  y: {op: add, in: [xs, ys]}\n", params="requires: [H == W]\n")
    for side in (1, 5):
        x = torch.randn(2, 3, side, side, dtype=dtype)
        want = torch.linspace(-1, 1, side, dtype=dtype) + torch.linspace(0, 1, side,
                                                                         dtype=dtype)
        got = run(tmp_path, text, x)
        assert got.dtype == dtype and torch.equal(got, want)


def test_linspace_takes_a_float_input_for_its_dtype(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(spec_text(
        "  x: {shape: [B, N], dtype: long}\n", "  y: {op: linspace, in: x, steps: N}\n"))
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "linspace takes float tensors as input 0, not int ones" in capsys.readouterr().err


def test_linspace_from_an_input_dim_carries_its_onnx_caveat():
    """ONNX export computes linspace's values at the export's size: `verify --onnx` notes
    it where steps is an input dim (read as absent: not a literal), not for a number (ACmix
    is listed in docs/integrations.md; tests/test_onnx.py runs the export)."""
    caveat = attngen.ops.REGISTRY["linspace"].onnx_caveat
    assert caveat({"steps": 4}) == ""
    assert caveat({}).startswith("ONNX export computes its values at the export's size")
