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
