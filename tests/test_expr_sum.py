"""`sum()` in expressions: the channels of maps concatenated (`Conv2d(sum(chans), ...)`),
over a list param or let, concrete or of symbolic items; a YAML flow list that holds an
index unquoted (`[B, chans[0], H, W]`) is an E100 whose note quotes it."""

from __future__ import annotations

import attngen
import pytest
import sympy
from attngen.cli import main
from attngen.errors import Loc, SpecError
from attngen.expr import parse

FUSE = """\
name: Fuse
params:
  chans: [8, 16, 24]
  out: 32
inputs:
  xs:
    items:
      a: [B, "chans[0]", H, W]
      b: [B, "chans[1]", H, W]
      c: [B, "chans[2]", H, W]
graph:
  cat: {op: cat, in: [a, b, c], dim: 1, shape: [B, sum(chans), H, W]}
  proj: {op: Conv2d, args: [sum(chans), out, 1], in: cat, shape: [B, out, H, W]}
outputs: proj
"""

AT = Loc("t.yaml", 1, 1)


def test_sum_of_a_list_param_sizes_a_layer(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "fuse.yaml"
    path.write_text(FUSE)
    loaded = attngen.load(str(path))
    assert "nn.Conv2d(sum(chans), out, 1" in loaded.source()
    module = loaded.compile()(chans=[2, 3, 4], out=5)
    y = module([torch.randn(2, c, 3, 3) for c in (2, 3, 4)])
    assert y.shape == (2, 5, 3, 3) and module.proj.in_channels == 9


def test_sum_values_and_symbols():
    assert parse("sum(xs) + 1", AT).value({"xs": (1, 2, 3)}) == 7
    h = sympy.Symbol("H", positive=True, integer=True)
    assert parse("sum(xs)", AT).sympy({"xs": (h, 2 * h, 3)}) == 3 * h + 3
    for env, message in (({"xs": 3}, "sum() needs a list"),
                         ({"xs": (1, True)}, "sum() needs a list of numbers")):
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse("sum(xs)", AT).value(env)
    with pytest.raises(SpecError, match="takes 1 argument"):
        parse("sum(a, b)", AT)


def test_an_unquoted_index_in_a_flow_list_gets_a_note(tmp_path, capsys):
    path = tmp_path / "fuse.yaml"
    path.write_text(FUSE.replace('"chans[1]"', "chans[1]"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "fuse.yaml:9:19: error[E100]: YAML syntax error: did not find expected ',' or ']'" \
        in err, err
    assert "note: inside [...] or {...}, an expression with brackets is quoted: " \
           '"chans[1]"' in err, err


@pytest.mark.parametrize("text", ["sum([[C], C])", "sum([C, C, [C]])", "sum([None])",
                                  "sum([C > 1, 2])"])
def test_sum_of_what_is_no_number_is_an_error(tmp_path, capsys, text):
    """Nested lists once crashed the checker (a sympy Tuple in an Add); bools and None
    printed sympy's warnings or its exception's name."""
    path = tmp_path / "s.yaml"
    path.write_text("name: S\nparams:\n  C: 8\ninputs:\n  x: [B, C]\ngraph:\n"
                    f'  a: {{op: cat, in: [x, x], dim: 1, shape: [B, "{text}"]}}\noutputs: a\n')
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"s.yaml:7:47: error[E102]: cannot evaluate '{text}': sum() needs a list of " \
           "numbers" in err and "Warning" not in err, err


def test_max_of_one_number_is_that_number_in_generated_code(tmp_path):
    """The expression language's max(x) is x; Python's max wants a list."""
    path = tmp_path / "one.yaml"
    path.write_text("name: One\nparams:\n  d: 6\nlet:\n  k: max(d)\n  m: min(d - 1)\n"
                    "inputs:\n  x: [B, d]\ngraph:\n"
                    "  y: {op: Linear, args: [d, k + m], in: x}\noutputs: y\n")
    module = attngen.load(str(path)).compile()()
    assert module.k == 6 and module.m == 5 and module.y.out_features == 11
