"""Issue 13, point 6: specs that `check` passed and whose module then failed. Each test
builds the spec and runs the generated module under torch (`verify`), or expects a located
error where the spec has no meaning."""

import textwrap

import pytest
from attngen import verify
from attngen.build import compile_spec
from attngen.cli import main
from attngen.errors import SpecError
from attngen.loader import Loader
from attngen.yamlload import LFloat, load_text, plain

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write(folder, name: str, text: str):
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _verified(path) -> str:
    """The generated source of a spec that checks, once verify found every runtime shape
    equal to the checker's."""
    checked = compile_spec(path, Loader(), {})
    report = verify.verify(checked, n_samples=3, export=False)
    assert not report.errors, "\n".join(d.format() for d in report.errors)
    assert any("tensor shapes and dtype families compared" in line for line in report.lines)
    from attngen import emit

    return emit.render(checked)


def _error(path, capsys) -> str:
    assert main(["check", str(path)]) == 1
    return capsys.readouterr().err


# -- YAML 1.2 numbers -------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("1e-4", 1e-4), ("1E4", 1e4), (".5", 0.5), ("-1e-3", -1e-3), ("+1.5e3", 1500.0),
    ("-.5", -0.5), ("2.5E-2", 0.025), ("1.0", 1.0),
])
def test_yaml_1_2_float_forms_are_located_numbers(text, value):
    loaded = load_text(f"a:\n  b: [1, {text}]\n", "f.yaml")
    number = loaded["a"]["b"][1]
    assert isinstance(number, LFloat) and number == value
    assert (number.loc.line, number.loc.col) == (2, 10)


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("1_000", 1000), ("0x10", 16), ("'1e-4'", "1e-4"), ("1e", "1e"), ("e4", "e4"),
    ("1e-4x", "1e-4x"), (".5.5", ".5.5"),
])
def test_other_scalars_read_as_before(text, value):
    got = plain(load_text(f"a: {text}\n", "f.yaml"))["a"]
    assert got == value and type(got) is type(value)


def test_a_bare_exponent_default_is_a_float_in_the_generated_module(tmp_path):
    path = _write(tmp_path, "simam", """\
        name: SimAMLike
        params:
          e_lambda: {default: 1e-4}
        inputs:
          x: [B, C, H, W]
        graph:
          d: {op: sub, in: [x, x]}
          y: {op: add, in: d, other: e_lambda}
        outputs: y
        """)
    source = _verified(path)
    assert "e_lambda: float = 0.0001" in source and "'1e-4'" not in source


def test_a_quoted_number_for_a_float_param_says_how_to_write_it(tmp_path, capsys):
    path = _write(tmp_path, "quoted", """\
        name: Quoted
        params:
          e_lambda: {default: "1e-4", type: float}
        inputs:
          x: [B, C]
        graph:
          y: {op: add, in: x, other: e_lambda}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "quoted.yaml:3:13: error[E102]: param 'e_lambda'" in err
    assert "write 1e-4 (or 0.0001) without quotes" in err


def test_a_quoted_number_reaching_a_number_argument_says_how_to_write_it(tmp_path, capsys):
    path = _write(tmp_path, "quoted_arg", """\
        name: QuotedArg
        params:
          C: {type: int, example: 8}
          eps: {default: "1e-5"}
        inputs:
          x: [B, C, H, W]
        graph:
          y: {op: BatchNorm2d, args: [C], eps: eps, in: x}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "quoted_arg.yaml:8:40: error[E402]" in err and "'eps' must be a number" in err
    assert "eps is '1e-5': write 1e-5 (or 0.00001) without quotes" in err


# -- max over several dims --------------------------------------------------------------
def test_max_over_a_list_of_dims_is_refused(tmp_path, capsys):
    path = _write(tmp_path, "max2", """\
        name: Max2
        inputs:
          x: [B, C, H, W]
        graph:
          y: {op: max, in: x, dim: [2, 3]}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "max2.yaml:5:28: error[E402]" in err and "max's 'dim' must be a dim index" in err


# -- each / map over what owns no layer, and over layers ----------------------------------
def test_each_with_a_tensor_function_is_one_call_per_item(tmp_path):
    path = _write(tmp_path, "rows", """\
        name: Rows
        params:
          idx: {default: [0, 2]}
        inputs:
          x: [B, 4, H, W]
        graph:
          parts: {op: slice, in: x, each: i in idx, dim: 1, start: i, stop: i + 1}
          y: {op: cat, in: parts, dim: 1, shape: [B, 2, H, W]}
        outputs: y
        """)
    source = _verified(path)
    assert "parts = [x[:, i:i + 1] for i in self.idx]" in source
    assert "self.parts" not in source


def test_map_with_a_layer_calls_it_per_tensor(tmp_path):
    path = _write(tmp_path, "mapped", """\
        name: Mapped
        params:
          c: {default: 4}
        inputs:
          x: [B, c, H, W]
        graph:
          convs: {op: Conv2d, args: [c, c, 1], each: "k in [1, 3]", in: x}
          proj: {op: Conv2d, args: [c, c, 1], map: true, in: convs}
          y: {op: cat, in: proj, dim: 1, shape: [B, 2 * c, H, W]}
        outputs: y
        """)
    source = _verified(path)
    assert "proj = [self.proj(item) for item in convs]" in source


def test_apply_under_map_and_each_gives_a_list(tmp_path):
    path = _write(tmp_path, "shared", """\
        name: Shared
        inputs:
          x: [B, 4, H, W]
        graph:
          convs: {op: Conv2d, args: [4, 4, 1], each: "k in [1, 3]", in: x}
          conv: {op: Conv2d, args: [4, 4, 1]}
          mapped: {apply: conv, map: true, in: convs}
          repeated: {apply: conv, each: "k in [1, 2, 3]", in: x}
          y: {op: cat, in: mapped, dim: 1, shape: [B, 8, H, W]}
          z: {op: cat, in: repeated, dim: 1, shape: [B, 12, H, W]}
        outputs: [y, z]
        """)
    source = _verified(path)
    assert "mapped = [self.conv(item) for item in convs]" in source
    assert "repeated = [self.conv(x) for k in [1, 2, 3]]" in source


# -- choices params passed into a sub-spec ---------------------------------------------
INNER = """\
    name: Inner
    params:
      d0: {choices: [1, 2], default: 1}
    inputs:
      x: [B, C, H, W]
    graph:
      y: {op: mean, in: x, dim: d0, keepdim: true}
      z: {op: softmax, in: y, dim: d0 + 1}
    outputs: z
    """


def test_a_choices_param_as_a_dim_inside_a_sub_spec_builds_and_runs(tmp_path):
    _write(tmp_path, "inner", INNER)
    path = _write(tmp_path, "outer", """\
        name: Outer
        params:
          d: {choices: [1, 2], default: 2}
        inputs:
          x: [B, C, H, W]
        graph:
          y: {use: inner, in: x, d0: d}
          z: {op: sum, in: y, dim: d, keepdim: true}
        outputs: z
        """)
    source = _verified(path)
    assert "self.y = Inner(d0=d, **factory_kwargs)" in source
    assert "x.mean(self.d0, keepdim=True)" in source


def test_map_with_a_sub_spec_calls_it_per_tensor(tmp_path):
    _write(tmp_path, "inner", INNER)
    path = _write(tmp_path, "mapped_use", """\
        name: MappedUse
        requires: [W >= 2]
        inputs:
          x: [B, C, H, W]
        graph:
          parts: {op: slice, in: x, each: "i in [0, 1]", dim: 3, start: i, stop: i + 1}
          pooled: {use: inner, in: parts, map: true, d0: 2}
          y: {op: cat, in: pooled, dim: 3}
        outputs: y
        """)
    source = _verified(path)
    assert "pooled = [self.pooled(item) for item in parts]" in source


def test_a_sub_spec_argument_outside_its_choices_is_a_located_error(tmp_path, capsys):
    _write(tmp_path, "inner", INNER)
    path = _write(tmp_path, "outer", """\
        name: Outer
        params:
          d: {choices: [2, 3], default: 2}
        inputs:
          x: [B, C, H, W]
        graph:
          y: {use: inner, in: x, d0: d}
          z: {use: inner, in: x, each: "k in [1, 2, 3]", d0: k}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "outer.yaml:7:30: error[E402]: node 'y': Inner's 'd0' must be one of 1, 2, got 3 " \
        "(when d=3)" in err
    assert "outer.yaml:8:54: error[E402]: node 'z': Inner's 'd0' must be one of 1, 2, got 3" in err


def test_compile_refuses_what_check_refuses(tmp_path):
    _write(tmp_path, "inner", INNER)
    path = _write(tmp_path, "outer", """\
        name: Outer
        inputs:
          x: [B, C, H, W]
        graph:
          y: {use: inner, in: x, d0: 0}
        outputs: y
        """)
    with pytest.raises(SpecError, match="must be one of 1, 2, got 0"):
        compile_spec(path, Loader(), {})


# -- found by the property test (tests/test_soundness_property.py) ----------------------
@pytest.mark.parametrize("op", ["interpolate", "Upsample"])
def test_resampling_with_both_size_and_scale_factor_is_refused(tmp_path, capsys, op):
    path = _write(tmp_path, "both", f"""\
        name: Both
        inputs:
          x: [B, C, H, W]
        graph:
          y: {{op: {op}, in: x, size: 1, scale_factor: 0.5}}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "both.yaml:5:" in err and "give one of 'size' and 'scale_factor', not both" in err


@pytest.mark.parametrize("op", ["MaxPool2d", "AvgPool2d", "max_pool2d"])
def test_pooling_padding_over_half_the_kernel_is_refused(tmp_path, capsys, op):
    path = _write(tmp_path, "pad", f"""\
        name: Pad
        inputs:
          x: [B, C, H, W]
        graph:
          y: {{op: {op}, in: x, kernel_size: 1, padding: 1}}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "pad.yaml:5:" in err and "padding 1 is more than half of kernel_size 1" in err


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reducing_over_one_dim_named_twice_is_refused(tmp_path, capsys, op):
    path = _write(tmp_path, "twice", f"""\
        name: Twice
        inputs:
          x: [B, C, H, W]
        graph:
          y: {{op: {op}, in: x, dim: [-2, 2]}}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "twice.yaml:5:" in err and "'dim' (-2, 2) names a dim more than once" in err


def test_pooling_padding_over_half_a_param_kernel_is_refused(tmp_path, capsys):
    path = _write(tmp_path, "pad_param", """\
        name: PadParam
        params:
          k: {default: 3}
        inputs:
          x: [B, C, H, W]
        graph:
          y: {op: MaxPool2d, in: x, kernel_size: k // 2, padding: 1}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "pad_param.yaml:7:" in err
    assert "2 * padding - kernel_size is 1 at the default sizes (must be at most 0)" in err


@pytest.mark.parametrize("op", ["interpolate", "Upsample"])
def test_a_resampling_mode_on_the_wrong_rank_is_refused(tmp_path, capsys, op):
    path = _write(tmp_path, "mode", f"""\
        name: Mode
        inputs:
          x: [B, C, H, W]
        graph:
          y: {{op: {op}, in: x, size: 1, mode: linear}}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "mode.yaml:5:" in err and "mode 'linear' resamples 3-d inputs, got 4 dims" in err


# -- view of a strided tensor (strides.py) -----------------------------------------------
# torch refuses to `view` merged dims whose strides do not line up; generated code writes
# such a view `reshape`, and keeps `view` where torch always takes it
def test_view_of_a_permuted_tensor_runs(tmp_path):
    path = _write(tmp_path, "flat", """\
        name: Flat
        inputs:
          x: [B, C, L]
        graph:
          t: {op: permute, in: x, dims: [0, 2, 1]}
          flat: {op: view, in: t, to: [B, L * C]}
        outputs: flat
        """)
    assert "flat = t.reshape(B, L * C)" in _verified(path)


@pytest.mark.parametrize("strided", [
    "t: {op: transpose, in: x, dim0: 1, dim1: 2}",
    "t: {op: rearrange, in: x, pattern: 'b c l -> b l c'}",
    "t: {op: einsum, in: x, equation: 'bcl->blc'}",
    "t: {op: slice, in: x, dim: 2, start: 1}",
    "t: {op: select, in: [x], dim: 1, index: 0}",
    "t: {op: expand, in: x, sizes: [2, -1, -1, -1]}",
    "parts: {op: chunk, in: x, chunks: 2, dim: 2, out: [t, rest]}",
])
def test_a_view_downstream_of_a_strided_tensor_runs(tmp_path, strided):
    """Through ops that keep their input's strides (an activation, a product)."""
    path = _write(tmp_path, "down", f"""\
        name: Down
        inputs:
          x: [B, C, 4]
        graph:
          {strided}
          act: {{op: relu, in: t}}
          scaled: {{op: mul, in: act, other: 2.0}}
          flat: {{op: view, in: scaled, to: [-1]}}
        outputs: flat
        """)
    assert "flat = scaled.reshape(-1)" in _verified(path)


@pytest.mark.parametrize("fresh", [
    "{op: Linear, args: [c, 3], in: t}",
    "{op: matmul, in: [t, x]}",
    "{op: mean, in: t, dim: 1, keepdim: true}",
    "{op: contiguous, in: t}",
])
def test_a_view_after_an_op_that_makes_a_contiguous_tensor_stays_a_view(tmp_path, fresh):
    path = _write(tmp_path, "fresh", f"""\
        name: Fresh
        params:
          c: {{default: 4}}
        inputs:
          x: [B, c, 4]
        graph:
          t: {{op: permute, in: x, dims: [0, 2, 1]}}
          f: {fresh}
          flat: {{op: view, in: f, to: [B, -1]}}
        outputs: flat
        """)
    assert "flat = f.view(B, -1)" in _verified(path)


def test_a_view_that_only_splits_or_adds_size_one_dims_stays_a_view(tmp_path):
    """Valid for any strides: a split dim and a size-1 dim need no merge."""
    path = _write(tmp_path, "split", """\
        name: Split
        params:
          h: {default: 2}
        requires: [c % h == 0]
        inputs:
          x: [B, c, L]
        graph:
          t: {op: permute, in: x, dims: [0, 2, 1]}
          heads: {op: view, in: t, to: [B, L, h, c // h, 1]}
          back: {op: view, in: heads, to: [B, L, h, c // h]}
        outputs: back
        """)
    source = _verified(path)
    assert "heads = t.view(B, L, self.h, c // self.h, 1)" in source
    assert "back = heads.view(B, L, self.h, c // self.h)" in source


def test_a_view_that_merges_in_one_configuration_is_a_reshape(tmp_path):
    """k = 1 drops a size-1 dim, k = 2 merges two: written for both."""
    path = _write(tmp_path, "config", """\
        name: Config
        params:
          k: {choices: [1, 2], default: 1}
        inputs:
          x: [B, L, k]
        graph:
          t: {op: transpose, in: x, dim0: 1, dim1: 2}
          flat: {op: view, in: t, to: [B, k * L]}
        outputs: flat
        """)
    assert "flat = t.reshape(B, self.k * L)" in _verified(path)


def test_a_sub_spec_given_a_permuted_tensor_runs(tmp_path):
    """A module's inputs may come in any layout: a sub-spec merging its input's dims
    reshapes it, whoever calls it."""
    _write(tmp_path, "inner", """\
        name: Inner
        inputs:
          x: [B, C, H, W]
        graph:
          flat: {op: view, in: x, to: [B, C, H * W]}
        outputs: flat
        """)
    path = _write(tmp_path, "outer", """\
        name: Outer
        inputs:
          x: [B, H, W, C]
        graph:
          t: {op: permute, in: x, dims: [0, 3, 2, 1]}
          inner: {use: inner, in: t}
        outputs: inner
        """)
    assert "flat = x.reshape(B, C, H * W)" in _verified(path)


# -- in-place writes, masked_fill, padding bounds (found while closing the one above) -------
INPLACE = """\
    name: Inplace
    inputs:
      x: [B, C, 1]
    graph:
      wide: {op: expand, in: x, sizes: [-1, -1, 4]}
      BETWEEN
      act: {op: ReLU, inplace: true, in: LAST}
    outputs: act
    """


@pytest.mark.parametrize("between, last", [
    ("", "wide"),
    ("t: {op: transpose, in: wide, dim0: 1, dim1: 2}", "t"),  # a view of it
    ("t: {op: view, in: wide, to: [B, C, 2, 2]}", "t"),
    ("t: {op: Identity, in: wide}", "t"),
])
def test_an_in_place_layer_on_an_expanded_tensor_is_refused(tmp_path, capsys, between, last):
    """An expand's repeated elements are one memory location: torch refuses to write them
    in place, so the checker refuses it, at `inplace`, with both fixes."""
    path = _write(tmp_path, "inplace", INPLACE.replace("BETWEEN", between).replace("LAST", last))
    err = _error(path, capsys)
    assert "inplace.yaml:7:28: error[E402]: node 'act': ReLU with 'inplace: true' writes " \
        "into its input, which may be node 'wide' (an expand)" in err, err
    assert "note: leave out 'inplace: true', or copy first: {op: contiguous" in err


@pytest.mark.parametrize("between, last", [
    ("t: {op: contiguous, in: wide}", "t"),  # the fix: a copy
    ("t: {op: add, in: wide, other: 1.0}", "t"),  # any op that writes a new tensor
])
def test_an_in_place_layer_on_a_copy_of_an_expanded_tensor_runs(tmp_path, between, last):
    path = _write(tmp_path, "inplace", INPLACE.replace("BETWEEN", between).replace("LAST", last))
    assert "act = self.act(t)" in _verified(path)


def test_a_sub_spec_writing_its_input_in_place_is_refused_where_it_gets_an_expand(tmp_path,
                                                                                  capsys):
    """Followed inside the sub-spec, with the arguments the caller gives: `inplace: false`
    (h_swish passes its own) runs; true is refused at the `use:`, in that configuration."""
    _write(tmp_path, "act", """\
        name: Act
        params:
          inplace: {default: true}
        inputs:
          x: [B, C, L]
        graph:
          y: {op: ReLU, inplace: inplace, in: x}
        outputs: y
        """)
    path = _write(tmp_path, "user", """\
        name: User
        params:
          inplace: {default: false}
        inputs:
          x: [B, C, 1]
        graph:
          wide: {op: expand, in: x, sizes: [-1, -1, 4]}
          act: {use: act, inplace: inplace, in: wide}
        outputs: act
        """)
    err = _error(path, capsys)
    assert "user.yaml:8:3: error[E402]: node 'act': Act writes its input in place (" in err
    assert "act.yaml:7:26: node 'y': ReLU with 'inplace: true'" in err
    assert err.count("error[E402]") == 1 and "(when inplace=True)" in err, err
    path.write_text(path.read_text().replace("inplace: inplace, in", "inplace: false, in"))
    assert "act = self.act(wide)" in _verified(path)


def test_masked_fill_with_a_wider_mask_widens_the_result(tmp_path):
    """torch broadcasts the input and the mask both ways: the rule does too."""
    path = _write(tmp_path, "fill", """\
        name: Fill
        inputs:
          x: [B, 1, L]
          mask: {shape: [B, C, L], dtype: bool}
        graph:
          y: {op: masked_fill, in: [x, mask], value: 0.0, shape: [B, C, L]}
        outputs: y
        """)
    assert "y = x.masked_fill(mask, 0.0)" in _verified(path)


def test_masked_fill_of_shapes_that_do_not_broadcast_is_refused(tmp_path, capsys):
    path = _write(tmp_path, "fill", """\
        name: Fill
        inputs:
          x: [B, 2, L]
          mask: {shape: [B, 3, L], dtype: bool}
        graph:
          y: {op: masked_fill, in: [x, mask], value: 0.0}
        outputs: y
        """)
    err = _error(path, capsys)
    assert "fill.yaml:6:3: error[E403]" in err and "cannot broadcast" in err, err


def test_circular_padding_past_the_dim_asks_for_the_bound_that_makes_it_run(tmp_path,
                                                                              capsys):
    """torch refuses circular padding that wraps around more than once: the checker asks
    for each padded dim's bound, and the spec runs with the lines it gives pasted in."""
    spec = """\
        name: Circ
        inputs:
          x: [B, C, H, W]
        graph:
          y: {op: pad, in: x, pad: [4, 4, 2, 2], mode: circular}
        outputs: y
        """
    path = _write(tmp_path, "circ", spec)
    err = _error(path, capsys)
    assert "circ.yaml:5:3: error[E404]: node 'y': circular padding of dim 3 by 4 needs W >= 4" \
        in err and "note: if the module relies on it, state it: requires: [W >= 4]" in err, err
    path = _write(tmp_path, "circ", spec + "requires: [W >= 4]\n")
    assert "requires: [H >= 2]" in _error(path, capsys)
    path = _write(tmp_path, "circ", spec + "requires: [W >= 4, H >= 2]\n")
    assert "y = F.pad(x, [4, 4, 2, 2], mode='circular')" in _verified(path)


def test_a_sub_specs_bound_is_asked_of_its_caller_in_the_callers_names(tmp_path, capsys):
    """A sub-spec's `requires: [W >= 5]` holds where the caller gives it W + 2 only for
    W >= 3: E404 at the `use:` node, with the caller's line (any size the caller allows
    is tried, not only random ones)."""
    _write(tmp_path, "inner", """\
        name: Inner
        requires: [W >= 5]
        inputs:
          x: [B, C, H, W]
        graph:
          y: {op: pad, in: x, pad: [4, 4, 0, 0], mode: reflect}
        outputs: y
        """)
    outer = """\
        name: Outer
        inputs:
          x: [B, C, H, W]
        graph:
          t: {op: pad, in: x, pad: [1, 1, 0, 0]}
          u: {use: inner, in: t}
        outputs: u
        """
    err = _error(_write(tmp_path, "outer", outer), capsys)
    assert "outer.yaml:6:3: error[E404]: node 'u': Inner's requirement W >= 5 needs W >= 3" \
        in err and "state it: requires: [W >= 3]" in err and "inner.yaml:" not in err, err
    _verified(_write(tmp_path, "outer", outer + "requires: [W >= 3]\n"))


# -- configurations: every branch a `when:` over int params can take ----------------------
BRANCH = """\
    name: Branch
    params:
      ratio: 1
      c: 8
    requires: [ratio >= 1, L >= ratio]  # the strided conv's window fits
    inputs:
      x: [B, c, L]
    graph:
      down: {when: ratio > 1, op: Conv1d, args: [c, c, ratio], stride: ratio, in: x}
      flat: {when: ratio > 1, op: view, in: down, to: [B, c, 4]}
      y:
        cases:
          - {when: ratio > 1, op: identity, in: flat}
          - {when: ratio == 1, op: identity, in: x}
    outputs: y
    """


def test_a_when_over_an_int_param_is_checked_in_both_branches(tmp_path, capsys):
    """The default ratio 1 leaves out the downsampling; ratio 2 takes it, and its view
    fails: checked there too, with the value that takes that branch."""
    path = _write(tmp_path, "branch", BRANCH)
    err = _error(path, capsys)
    assert "branch.yaml:10:3: error[E403]: node 'flat': number of elements is 4*B*c" in err
    assert "(when ratio=2)" in err, err
    path = _write(tmp_path, "branch", BRANCH.replace("to: [B, c, 4]", "to: [B, c, -1]"))
    checked = compile_spec(path, Loader(), {})
    assert checked.configs == [{}, {"ratio": 2}]  # the default (ratio any size) and ratio 2
    _verified(path)


@pytest.mark.parametrize("extra, when, branch", [
    ("", "ratio > 1", {"ratio": 2}),
    ("requires: [ratio >= 1, ratio != 2]\n", "ratio > 1", {"ratio": 3}),  # as requires allows
    ("let: {big: ratio > 4}\n", "big", {"ratio": 5}),  # through a let
    ("", "ratio >= 3 and ratio < 6", {"ratio": 3}),
])
def test_the_branch_values_are_the_nearest_that_requires_allows(tmp_path, extra, when, branch):
    path = _write(tmp_path, "near", "name: Near\nparams: {ratio: 1}\n" + extra + f"""\
inputs:
  x: [B, C]
graph:
  a: {{op: relu, in: x, when: {when}}}
  b: {{op: sigmoid, in: x, when: not ({when})}}
outputs:
  - {{name: a, when: {when}}}
  - {{name: b, when: not ({when})}}
""")
    assert compile_spec(path, Loader(), {}).configs == [{}, branch]


def test_branches_combine_with_bool_params(tmp_path):
    """Each bool value with each branch its int params take there: `reduce and ratio > 1`
    is true only with reduce, so ratio 2 is pinned only there."""
    path = _write(tmp_path, "both", """\
        name: Both
        params: {ratio: 1, reduce: false}
        inputs:
          x: [B, C]
        graph:
          a: {op: relu, in: x, when: reduce and ratio > 1}
          b: {op: sigmoid, in: x, when: not (reduce and ratio > 1)}
        outputs:
          - {name: a, when: reduce and ratio > 1}
          - {name: b, when: not (reduce and ratio > 1)}
        """)
    configs = compile_spec(path, Loader(), {}).configs
    assert configs == [{"reduce": False}, {"reduce": True}, {"reduce": True, "ratio": 2}]
