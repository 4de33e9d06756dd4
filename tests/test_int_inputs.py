"""Int inputs (`H: int`): ints forward takes beside its tensors (PVT's forward(x, H, W)),
dims of the check given by the caller; a spec that uses one passes them by name."""

import textwrap

import attngen
import pytest
import torch
from attngen.cli import main
from conftest import REPO_ROOT


def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GRID = """\
    name: Grid
    params:
      c: {default: 8}
    requires: [N == H * W]
    inputs:
      x: [B, N, c]
      H: int
      W: {type: int, doc: the map's width}
    graph:
      grid: {op: rearrange, in: x, pattern: 'b (h w) c -> b c h w', sizes: {h: H, w: W},
             shape: [B, c, H, W]}
      pooled: {op: avg_pool2d, in: grid, kernel_size: 2, ceil_mode: true}
      tokens: {op: rearrange, in: pooled, pattern: 'b c h w -> b (h w) c'}
    outputs: tokens
    """


def test_forward_takes_the_ints_in_the_order_written(tmp_path):
    grid = attngen.load(_write(tmp_path, "grid", GRID))
    assert "def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:" in grid.source()
    assert "H: int\n        W: int: the map's width" in grid.source()  # the docstring
    assert "if not (N == H * W):" in grid.source()
    assert grid.shape("tokens") == "(B, (1 + ((-1 + H) // 2))*(1 + ((-1 + W) // 2)), c)"
    module = grid.compile()()
    x = torch.randn(2, 15, 8)
    want = torch.nn.functional.avg_pool2d(x.transpose(1, 2).reshape(2, 8, 3, 5), 2,
                                          ceil_mode=True).flatten(2).transpose(1, 2)
    torch.testing.assert_close(module(x, 3, 5), want)
    torch.testing.assert_close(module(x, H=3, W=5), want)
    with pytest.raises(ValueError, match="requires N == H \\* W"):
        module(x, 5, 5)
    first = attngen.load(_write(tmp_path, "first", GRID.replace(
        "  x: [B, N, c]\n      H: int\n", "  H: int\n      x: [B, N, c]\n")))
    assert "def forward(self, H: int, x: torch.Tensor, W: int)" in first.source()


def test_a_caller_passes_the_ints_by_name_as_expressions_of_its_own(tmp_path):
    _write(tmp_path, "grid", GRID)
    caller = _write(tmp_path, "caller", """\
        name: Caller
        requires: [H % 2 == 0]
        inputs:
          x: [B, 8, H, W]
        graph:
          tokens: {op: rearrange, in: x, pattern: 'b c h w -> b (h w) c'}
          halves: {op: rearrange, in: tokens, pattern: 'b (h two w) c -> b (h w) (two c)',
                   sizes: {two: 2, w: W}}
          pooled: {use: grid, in: halves, c: 16, H: H // 2, W: W}
        outputs: pooled
        """)
    loaded = attngen.load(caller)
    assert "pooled = self.pooled(halves, H // 2, W)" in loaded.source()
    assert loaded.shape("pooled") == "(B, (1 + ((-1 + W) // 2))*(1 + ((-1 + (H // 2)) // 2)), 16)"
    module = loaded.compile()()
    x = torch.randn(2, 8, 6, 5)
    halves = x.flatten(2).transpose(1, 2).reshape(2, 3, 2, 5, 8).permute(0, 1, 3, 2, 4)
    torch.testing.assert_close(module(x), module.pooled(halves.reshape(2, 15, 16), 3, 5))


def test_the_callers_sizes_must_satisfy_the_requirements_of_the_sub_spec(tmp_path, capsys):
    _write(tmp_path, "grid", GRID)
    caller = _write(tmp_path, "caller", """\
        name: Caller
        inputs:
          x: [B, N, 8]
        graph:
          pooled: {use: grid, in: x, H: 2, W: 3}
        outputs: pooled
        """)
    assert main(["check", str(caller)]) == 1
    err = capsys.readouterr().err
    assert "error[E405]: node 'pooled': Grid requires N == H * W, which does not hold here" in err
    assert "note: passed: H=2, W=3" in err and "note: counterexample: N=5" in err


@pytest.mark.parametrize("node, code, message", [
    ("{use: grid, in: x, H: 2}", "E103", "node 'p' does not pass Grid's int input(s) W"),
    ("{use: grid}", "E402", "node 'p': Grid's forward takes ints (H, W), which only its "
                            "`use:` node passes"),
    ("{use: grid, in: x, each: i in range(2), H: 2, W: 3}", "E402",
     "node 'p': Grid's forward takes ints (H, W)"),
    ("{seq: [{use: grid}], in: x}", "E402",
     "layer 0 of 'p': Grid's forward takes ints (H, W), and an nn.Sequential passes one tensor"),
])
def test_a_call_that_cannot_pass_the_ints_is_an_error(tmp_path, capsys, node, code, message):
    _write(tmp_path, "grid", GRID)
    caller = _write(tmp_path, "caller", f"""\
        name: Caller
        inputs:
          x: [B, 6, 8]
        graph:
          p: {node}
        outputs: x
        """)
    assert main(["check", str(caller)]) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]: {message}" in err, err
    assert "`{use: grid, in: x, H: H, W: W}`" in err, err
    assert "Traceback" not in err


def test_apply_of_a_layer_whose_forward_takes_ints_is_an_error(tmp_path, capsys):
    _write(tmp_path, "grid", GRID)
    caller = _write(tmp_path, "caller", """\
        name: Caller
        inputs:
          x: [B, 6, 8]
        graph:
          p: {use: grid, in: x, H: 2, W: 3}
          again: {apply: p, in: x}
        outputs: again
        """)
    assert main(["check", str(caller)]) == 1
    err = capsys.readouterr().err
    assert "error[E402]: node 'again': 'apply: p' calls Grid, whose forward takes ints" in err


def test_a_spec_built_in_python_passes_the_ints_too(tmp_path):
    """recheck.py: a Spec edited in Python is checked as the loader checks a file."""
    _write(tmp_path, "grid", GRID)
    caller = attngen.load(_write(tmp_path, "caller", """\
        name: Caller
        inputs:
          x: [B, 6, 8]
        graph:
          p: {use: grid, in: x, H: 2, W: 3}
        outputs: p
        """))
    spec = caller.spec
    form = spec.nodes["p"].form
    spec.nodes["p"].form = type(form)(form.ref, form.spec, form.args, {"H": form.sizes["H"]})
    with pytest.raises(attngen.SpecError, match="does not pass Grid's int input"):
        attngen.compile(spec)


def test_the_library_module_takes_the_map_size(capsys):
    """pvt_attention.yaml: forward(x, H, W), the tokens' count checked against the map."""
    source = (REPO_ROOT / "generated/pvt_attention.py").read_text()
    assert "def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:" in source
    assert "grid = x.unflatten(1, (H, W)).permute(0, 3, 1, 2)" in source
    assert main(["verify", str(REPO_ROOT / "specs/pvt_attention.yaml"), "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "forward's ints, constants of the exported graph: H, W" in out


@pytest.mark.parametrize("graph, code, message", [
    # __init__ runs before forward is called: a layer's size, a tensor's shape and a `when`
    # cannot read forward's ints
    ("y: {op: Linear, args: [c, H], in: x}", "E202",
     "node 'y': 'H' names int input 'H', an argument of forward, but it is made in __init__"),
    ("t: {param: [H], init: zeros}\n  y: {op: relu, in: x}", "E102",
     "the shape of param 't' names 'H', an int input (forward's argument)"),
    ("y: {when: H > 2, op: relu, in: x}", "E202",
     "node 'y': 'H > 2' names int input 'H', an argument of forward, but a condition is "
     "decided once, at construction"),
])
def test_what_init_makes_cannot_read_an_int_input(tmp_path, capsys, graph, code, message):
    spec = _write(tmp_path, "s", "name: S\nparams:\n  c: {default: 4}\ninputs:\n  x: [B, N, c]\n"
                                 f"  H: int\ngraph:\n  {graph}\noutputs: y\n")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]: {message}" in err, err


def test_a_loop_body_passes_the_ints_on(tmp_path):
    """A SegFormer or PVTv2 stage: `depth` blocks, each `forward(x, H, W)`, in a `body:`."""
    _write(tmp_path, "dw", """\
        name: DW
        params:
          c: {default: 8}
        requires: [N == H * W]
        inputs:
          x: [B, N, c]
          H: int
          W: int
        graph:
          grid: {op: rearrange, in: x, pattern: 'b (h w) c -> b c h w', sizes: {h: H, w: W}}
          conv: {op: Conv2d, args: [c, c, 3], padding: 1, groups: c, in: grid}
          tokens: {op: rearrange, in: conv, pattern: 'b c h w -> b (h w) c'}
        outputs: tokens
        """)
    stage = attngen.load(_write(tmp_path, "stage", """\
        name: Stage
        params:
          depth: {default: 3}
        requires: [N == H * W]
        inputs:
          x: [B, N, 8]
          H: int
          W: int
        graph:
          blocks:
            each: range(depth)
            in: x
            shape: [B, N, 8]
            body:
              dw: {use: dw, in: x, H: H, W: W}
        outputs: blocks
        """))
    assert "blocks = dw_layer(blocks, H, W)" in stage.source()
    module = stage.compile()()
    x, want = torch.randn(2, 15, 8), None
    want = x
    for dw in module.blocks:
        want = dw(want, 3, 5)
    torch.testing.assert_close(module(x, 3, 5), want)


def test_an_int_input_type_typo_is_named(tmp_path, capsys):
    spec = _write(tmp_path, "t", "name: T\ninputs:\n  x: [B, C]\n  H: integer\ngraph:\n"
                                 "  y: {op: relu, in: x}\noutputs: y\n")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[E102]: input 'H' must be a shape list, a mapping or `int`, got 'integer'; " \
           "did you mean 'int'?" in err


def test_forward_refuses_an_int_below_1(tmp_path):
    """The checker takes an int input as a size of at least 1; a slice `stop: H` at H = -1
    returned 9 of 10 rows where the spec says H (found by a review)."""
    module = attngen.load(_write(tmp_path, "grid", GRID)).compile()()
    with pytest.raises(ValueError, match="Grid: H, W must be at least 1"):
        module(torch.randn(1, 0, 8), 0, 5)


def test_an_input_dim_may_not_be_an_expression_of_ints(tmp_path, capsys):
    """`x: [B, "H * W", c]`: forward reads an input's dims and checks none, so 12 tokens
    called with H, W = 3, 5 ran (a review): the dim is named and required instead."""
    spec = _write(tmp_path, "s", "name: S\ninputs:\n  x: [B, \"H * W\", 8]\n  H: int\n  W: int\n"
                                 "graph:\n  y: {op: relu, in: x}\noutputs: y\n")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[E102]: dim 'H * W' of input 'x' reads int input 'H'" in err
    assert "`requires: [N == H * W]`" in err and err.count("error[") == 1


def test_a_list_input_of_a_sub_spec_gets_its_items_as_one_list(tmp_path):
    """A `use:` node's tensors for a list input: `self.pair([a, b], H)` (it was called
    `self.pair(a, b)`, items apart: a TypeError, or with ints, a tensor dropped)."""
    _write(tmp_path, "pair", """\
        name: Pair
        requires: [N == H]
        inputs:
          H: int
          feats:
            items:
              a: [B, N, c]
              b: [B, N, c]
        graph:
          y: {op: add, in: [a, b]}
        outputs: y
        """)
    caller = attngen.load(_write(tmp_path, "caller", """\
        name: Caller
        inputs:
          x: [B, S, 4]
          z: [B, S, 4]
        graph:
          p: {use: pair, in: [x, z], H: S}
        outputs: p
        """))
    assert "p = self.p(S, [x, z])" in caller.source()
    x, z = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    torch.testing.assert_close(caller.compile()()(x, z), x + z)
    # under `each` and `apply` too (a review: `layer(x, z)`, a TypeError)
    _write(tmp_path, "plain", "name: Plain\ninputs:\n  feats:\n    items:\n      a: [B, c]\n"
                              "      b: [B, c]\ngraph:\n  y: {op: add, in: [a, b]}\noutputs: y\n")
    for node, read in [("p: {use: plain, in: [x, z], each: range(2)}", "layer([x, z])"),
                       ("d: {use: plain}\n  p: {apply: d, in: [x, z]}", "self.d([x, z])")]:
        text = f"name: C2\ninputs:\n  x: [B, 4]\n  z: [B, 4]\ngraph:\n  {node}\noutputs: p\n"
        loaded = attngen.load(_write(tmp_path, "c2", text))
        assert read in loaded.source()
        out = loaded.compile()()(x[:, 0], z[:, 0])
        assert isinstance(out, (list, torch.Tensor))


def test_verify_compares_exported_shapes_that_name_ints(capsys, tmp_path):
    """The exported program's output (B, 15, 8) is the spec's (B, H*W, 8) at the ints it
    was exported with (verify said they differed)."""
    spec = _write(tmp_path, "keep", GRID.replace(
        "  pooled: {op: avg_pool2d, in: grid, kernel_size: 2, ceil_mode: true}\n"
        "      tokens: {op: rearrange, in: pooled,", "  tokens: {op: rearrange, in: grid,"))
    assert main(["verify", str(spec), "-n", "2"]) == 0, capsys.readouterr()
    assert "spec (B, H*W, c)" not in capsys.readouterr().out


@pytest.mark.parametrize("key", ["when", "body", "param"])
def test_an_int_input_named_like_a_node_key_is_refused(tmp_path, capsys, key):
    """`when: int` in a sub-spec: its caller's `{use: s, when: 2}` was a condition."""
    spec = _write(tmp_path, "s", f"name: S\ninputs:\n  x: [B, C]\n  {key}: int\ngraph:\n"
                                 "  y: {op: relu, in: x}\noutputs: y\n")
    assert main(["check", str(spec)]) == 1
    assert f"error[E104]: int input '{key}' is a key of the node that uses this spec" in \
        capsys.readouterr().err


def test_diff_lists_int_inputs(tmp_path, capsys):
    a = _write(tmp_path, "a", GRID)
    b = _write(tmp_path, "b", GRID.replace("W: {type: int, doc: the map's width}\n",
                                           "W: {type: int, doc: the map's width}\n      K: int\n"))
    main(["diff", str(a), str(b)])
    assert "K: int" in capsys.readouterr().out
