"""The checker's shortcuts decide what sampling would, never more: a bound proven from its
form (shape_ctx.ProverCtx._proven) holds at every size `requires` allows, checked here by
enumerating small sizes."""

from __future__ import annotations

import itertools

import pytest
import sympy
from attngen import exact
from attngen.errors import Loc
from attngen.expr import parse
from attngen.prover import Prover
from attngen.shape_ctx import ProverCtx

H, W, K, P = (sympy.Symbol(n, integer=True, positive=True) for n in ("H", "W", "k", "p"))
LOC = Loc("t.yaml", 1, 1)


def _holds(text: str, values: dict[str, int]) -> bool:
    return bool(parse(text, LOC).value(values))


GAPS = [
    H - K + 2 * sympy.floor(K / 2),  # a conv padded k // 2 (stride 1)
    H - K + 2 * sympy.floor(K / 2 - sympy.Rational(1, 2)),  # padded (k - 1) // 2
    H - K + 2 * sympy.floor(K / 2) - 1,  # the same, one row short
    H - 2 * K + 2 * sympy.floor(K / 2),
    H + W - K + sympy.floor(K / 3),
    H - K + 2 * sympy.floor(K / 2 - sympy.Rational(1, 2)) + sympy.floor(W / 2),
    H - P + sympy.floor(P / 4) * 4,
    H - 2 * sympy.floor(K / 2),  # a floor with a negative coefficient
    H + sympy.floor((K - 1) / 2) - sympy.floor(K / 2),
]
REQUIRES = [[], ["k % 2 == 1"], ["k % 2 == 0"], ["p % 4 == 0", "k % 3 == 2"], ["k % 2 == 1",
                                                                             "H % 2 == 0"]]


@pytest.mark.parametrize("requires", REQUIRES, ids=" ".join)
@pytest.mark.parametrize("gap", GAPS, ids=str)
def test_a_proven_bound_holds_wherever_requires_does(gap, requires):
    ctx = ProverCtx(Prover({}, []), [parse(r, LOC) for r in requires])
    if not ctx._proven(gap):
        return
    symbols = sorted(gap.free_symbols, key=str)
    for values in itertools.product(range(1, 13), repeat=len(symbols)):
        named = {s.name: v for s, v in zip(symbols, values, strict=True)}
        if all(_holds(r, {**{"H": 1, "W": 1, "k": 1, "p": 1}, **named}) for r in requires):
            sample = {s: sympy.Integer(v) for s, v in zip(symbols, values, strict=True)}
            assert exact.at(gap, sample) >= 0, (gap, requires, named)


def test_the_proofs_reach_what_the_library_asks():
    odd = ProverCtx(Prover({}, []), [parse("k % 2 == 1", LOC)])
    plain = ProverCtx(Prover({}, []), [])
    assert plain._proven(H - K + 2 * sympy.floor(K / 2))  # 2*floor(k/2) >= k - 1
    padded = H - K + 2 * sympy.floor(K / 2 - sympy.Rational(1, 2))
    assert odd._proven(padded) and not plain._proven(padded)  # k = 2: H - 2 falls below 0
    assert not odd._proven(H - K + 2 * sympy.floor(K / 2) - 1)
    even = ProverCtx(Prover({}, []), [parse("k % 2 == 0", LOC)])
    assert not even._proven(padded)


def test_a_slow_equality_is_proven_where_no_sample_tests_it():
    """Dims with several floors are sampled before the proofs are tried: where no sample
    gives them values, the proofs still decide (as they did when they came first)."""
    fh, fw = sympy.floor(H / 2), sympy.floor(W / 2)
    a, b = (fh + fw) ** 2, fh ** 2 + 2 * fh * fw + fw ** 2
    assert Prover({}, []).equal(a, b) == (True, None)
    assert Prover({}, [{H: sympy.Integer(5), W: sympy.Integer(7)}]).equal(a, b) == (True, None)
    wrong = {H: sympy.Integer(5), W: sympy.Integer(7)}
    assert Prover({}, [wrong]).equal(a, b + fh) == (False, wrong)


@pytest.mark.parametrize("where", ["use", "seq"])
def test_an_expand_inside_a_sub_spec_or_seq_still_reaches_the_in_place_check(tmp_path,
                                                                             capsys, where):
    """check_in_place is skipped only where no `expand` may run: one inside a sub-spec (or
    a `seq:` layer) the spec uses still makes its in-place layers refused."""
    import textwrap

    from attngen.cli import main

    (tmp_path / "wide.yaml").write_text(textwrap.dedent("""\
        name: Wide
        inputs:
          x: [B, C, 1]
        graph:
          wide: {op: expand, in: x, sizes: [-1, -1, 4]}
        outputs: wide
        """))
    made = "{use: wide, in: x}" if where == "use" else \
        "{seq: [{op: Identity}, {use: wide}], in: x}"
    (tmp_path / "user.yaml").write_text(textwrap.dedent(f"""\
        name: User
        inputs:
          x: [B, C, 1]
        graph:
          made: {made}
          act: {{op: ReLU, inplace: true, in: made}}
        outputs: act
        """))
    assert main(["check", str(tmp_path / "user.yaml")]) == 1
    err = capsys.readouterr().err
    assert "error[E402]: node 'act': ReLU with 'inplace: true' writes into its input" in err


CONV = """\
    name: {name}
    params:
      channel: {{default: 8}}
      kernel_size: {{default: 3}}
    requires: [{requires}]
    inputs:
      x: [B, channel, H, W]
    graph:
      conv: {{op: Conv2d, args: [channel, channel], kernel_size: kernel_size,
              padding: kernel_size // 2, in: x, shape: [B, channel, H, W]}}
    outputs: conv
    """


@pytest.mark.parametrize("first", ["odd", "plain"])
def test_specs_alike_but_for_requires_get_their_own_verdicts(tmp_path, capsys, first):
    """The checker's memos (proofs of bounds and equalities, requirement facts) are keyed
    on everything their answer depends on: two specs with the same nodes, one stating
    `kernel_size % 2 == 1`, checked in one process in either order, keep their verdicts
    and locations."""
    import textwrap

    from attngen.cli import main

    paths = {}
    for name, requires in [("odd", "kernel_size % 2 == 1, channel % 2 == 0"),
                           ("plain", "channel % 2 == 0")]:
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(textwrap.dedent(CONV.format(name=name.title(),
                                                           requires=requires)))
    order = [first, "plain" if first == "odd" else "odd"]
    assert main(["check", *(str(paths[n]) for n in order)]) == 1
    err = capsys.readouterr().err
    assert "odd.yaml" not in err, err
    assert f"{paths['plain']}:10:65: error[E404]: node 'conv'" in err, err
    assert "requires: [kernel_size % 2 == 1]" in err, err


def test_a_requirement_fact_keeps_its_own_location():
    from attngen.model import divisibility_fact

    here, there = Loc("a.yaml", 3, 5), Loc("b.yaml", 7, 1)
    a, b = divisibility_fact(parse("C % 4 == 1", here)), divisibility_fact(parse("C % 4 == 1",
                                                                                 there))
    assert a is not None and b is not None
    assert (a[0], a[1].text, a[2].text) == ("C", "4", "1") == (b[0], b[1].text, b[2].text)
    assert a[1].loc == here and b[1].loc == there and a[2].loc == here and b[2].loc == there
    assert divisibility_fact(parse("C > 4", here)) is None


def test_dim_names_keep_each_shapes_own_locations():
    from attngen.model import dim_names

    here, there = Loc("a.yaml", 3, 5), Loc("b.yaml", 7, 1)
    assert list(dim_names([parse("max(H, 2 * W)", here)])) == [
        ("H", Loc("a.yaml", 3, 9)), ("W", Loc("a.yaml", 3, 16))]
    assert list(dim_names([parse("max(H, 2 * W)", there)])) == [
        ("H", Loc("b.yaml", 7, 5)), ("W", Loc("b.yaml", 7, 12))]
