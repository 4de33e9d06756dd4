"""List comprehensions in lets (HorNet's `dims = [dim // 2 ** i for i in range(order)]`),
exponents that are expressions, and loop bodies whose copies change shape (`shape: [B,
"dims[i]", H, W]`: copy i reads the shape at i and gives the shape at i + 1)."""

from __future__ import annotations

import attngen
import pytest
import sympy
from attngen.cli import main
from attngen.errors import Loc, SpecError
from attngen.expr import parse

AT = Loc("t.yaml", 1, 1)

GATED = """\
name: Gated
params:
  dim: {type: int, example: 32}
  order: {default: 4}
let:
  dims: "[dim // 2 ** (order - 1 - i) for i in range(order)]"
requires:
  - dim % 2 ** (order - 1) == 0
inputs:
  x: [B, dim, H, W]
graph:
  first: {op: Conv2d, args: [dim, "dims[0]", 1], in: x}
  ups:
    each: i in range(order - 1)
    in: first
    shape: [B, "dims[i]", H, W]
    body:
      up: {op: Conv2d, args: ["dims[i]", "dims[i + 1]", 1], in: first}
      act: {op: ReLU, in: up}
  out: {op: add, in: [ups, x]}
outputs: out
"""


def _write(tmp_path, text, name="gated.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_comprehension_is_a_list_at_concrete_and_symbolic_values():
    expr = parse("[c // 2 ** (n - 1 - i) for i in range(n)]", AT, comprehension=True)
    assert expr.names == {"c", "n"}  # `i` is the comprehension's own
    assert expr.value({"c": 64, "n": 4}) == (8, 16, 32, 64)
    c = sympy.Symbol("c", positive=True, integer=True)
    assert expr.sympy({"c": c, "n": 3}) == (sympy.floor(c / 4), sympy.floor(c / 2), c)
    nested = parse("[sum([xs[j] for j in range(i)]) for i in range(len(xs)) if i != 1]", AT,
                   comprehension=True)
    assert nested.value({"xs": (1, 2, 4)}) == (0, 3)
    assert parse("[k * 2 for k in xs]", AT, comprehension=True).value({"xs": [1, 3]}) == (2, 6)


@pytest.mark.parametrize(("text", "message"), [
    ("[i for i in range(n)]", "allowed in a let's value only"),
    ("[i for i in range(3) for j in range(2)]", "takes one 'for'"),
    ("[i for (i, j) in xs]", "variable is one name"),
    ("[_i for _i in range(3)]", "'_i' cannot be a comprehension's variable"),
    ("[i for i in range(1, 2, 3, 4)]", "range\\(\\) takes 1 to 3 arguments"),
    ("{i for i in range(3)}", "'SetComp' is not allowed"),
    ("x ** 9", "number literal of at most 8"),
])
def test_what_a_comprehension_may_not_be(text, message):
    with pytest.raises(SpecError, match=message):
        parse(text, AT, comprehension="let's value only" not in message)


@pytest.mark.parametrize(("text", "env", "message"), [
    ("[i for i in range(0, n, 0)]", {"n": 3}, "step must not be zero"),
    ("[i for i in n]", {"n": 3}, "runs over a list or range"),
    ("[i for i in range(n)]", {"n": 10**6}, "over 1000000 items \\(at most 256\\)"),
    ("[[[k for k in range(n)] for j in range(n)] for i in range(n)]", {"n": 200},
     "more than 4096 items in all"),
    ("[i for i in range(n)]", {"n": 2.5}, "needs whole numbers"),
])
def test_a_comprehension_that_cannot_be_computed_is_located(text, env, message):
    with pytest.raises(SpecError, match=message):
        parse(text, AT, comprehension=True).value(env)


def test_an_exponent_may_be_an_expression_of_at_most_64():
    assert parse("2 ** (n - 1)", AT).value({"n": 5}) == 16
    with pytest.raises(SpecError, match="outside -64 to 64"):
        parse("2 ** (n * 100)", AT).value({"n": 5})
    c = sympy.Symbol("c", positive=True, integer=True)
    with pytest.raises(SpecError, match="has no number value here"):
        parse("2 ** (c - 1)", AT).sympy({"c": c})


def test_a_let_comprehension_builds_and_runs_at_other_orders(tmp_path):
    torch = pytest.importorskip("torch")
    loaded = attngen.load(str(_write(tmp_path, GATED)))
    source = loaded.source()
    assert "self.dims = [dim // 2 ** (order - 1 - i) for i in range(order)]" in source
    for order in (1, 2, 4, 6):  # the check took order at its default (4)
        module = loaded.compile()(64, order=order)
        assert [m[0].out_channels for m in module.ups] == [64 // 2 ** (order - 1 - i)
                                                          for i in range(1, order)]
        assert module(torch.randn(2, 64, 3, 5)).shape == (2, 64, 3, 5)


def test_a_body_whose_copies_change_shape_ends_at_the_next_number(tmp_path, capsys):
    path = _write(tmp_path, GATED)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "first  Conv2d     (B, dim // 8, H, W)" in out
    assert "ups    each body  (B, dim, H, W)" in out  # dims[order - 1] after 3 copies
    source = attngen.load(str(path)).source()
    forward = source[source.index("def forward"):]
    # the body's own check sees copy 0 only: no shape it does not write is shown there
    assert "dim // 4" not in forward and "dims[i]" not in forward.split("for ")[-1]


def test_a_copy_that_gives_the_wrong_shape_names_the_copy(tmp_path, capsys):
    bad = GATED.replace('args: ["dims[i]", "dims[i + 1]", 1]', 'args: ["dims[i]", "dims[i]", 1]')
    assert main(["check", str(_write(tmp_path, bad))]) == 1
    err = capsys.readouterr().err
    assert "error[E400]: node 'ups'" in err
    assert "copy i = 0 gives what the next copy reads: the 'shape' at i = 1" in err


def test_no_copies_give_the_shape_at_the_start(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    module = attngen.load(str(_write(tmp_path, GATED))).compile()(16, order=1)
    assert len(module.ups) == 0 and module(torch.randn(1, 16, 2, 2)).shape == (1, 16, 2, 2)
    # checked at defaults where the loop has no copies, the body's copy 0 reads dims[1]
    one = GATED.replace("order: {default: 4}", "order: {default: 1}")
    assert main(["check", str(_write(tmp_path, one))]) == 1
    err = capsys.readouterr().err
    assert "index 1 out of range for a list of 1" in err
    assert ("a loop body is checked alone at its first copy at the defaults (i = 0); at the "
            "defaults the loop has no copies: give the params defaults where it runs") in err


def test_a_shape_that_reads_the_variable_of_a_list_loop_is_refused(tmp_path, capsys):
    text = GATED.replace("each: i in range(order - 1)", "each: i in dims")
    assert main(["check", str(_write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert "reads the loop variable 'i', which needs 'each: i in range(...)'" in err
    assert "each: i in range(len(dims))" in err


@pytest.mark.parametrize(("let", "message"), [
    ('"[dim * 2 for dim in range(order)]"', "comprehension variable 'dim' of let 'dims' "
                                            "shadows a name defined at line 3"),
    ('"[i for i in range(order) if i > dim]"', "is not decided here"),
])
def test_let_comprehension_errors_are_located(tmp_path, capsys, let, message):
    text = GATED.replace('"[dim // 2 ** (order - 1 - i) for i in range(order)]"', let)
    assert main(["check", str(_write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert "gated.yaml:6:" in err and message in err


def test_a_comprehension_outside_a_let_gets_the_fix(tmp_path, capsys):
    text = GATED.replace('args: [dim, "dims[0]", 1]', 'args: [dim, "[c for c in dims][0]", 1]')
    assert main(["check", str(_write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert "a list comprehension is allowed in a let's value only" in err
    assert "compute the list in 'let:'" in err


def test_a_diagram_of_copies_that_change_shape_shows_what_the_spec_writes(tmp_path):
    from attngen.checker import check
    from attngen.diagram import dot_source
    from attngen.loader import load

    path = _write(tmp_path, GATED.replace(
        "      up: {op: Conv2d, args: [\"dims[i]\", \"dims[i + 1]\", 1], in: first}",
        "      up: {op: Conv2d, args: [\"dims[i]\", \"dims[i + 1]\", 1], in: first,\n"
        "           shape: [B, \"dims[i + 1]\", H, W]}"))
    dot = dot_source(check(load(path)))
    assert "(B, dims[i + 1], H, W)" in dot  # the annotated edge inside the body
    assert "dim // 4" not in dot  # no first copy's value shown as every copy's
