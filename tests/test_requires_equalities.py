"""Equality facts in `requires` (issue 13): `nq == H * W`, or `not mix or nq == H * W` in
the configurations where its guard is false, are substitutions the checker proves shapes
with; the generated forward (or constructor) enforces each; a shape that only holds under
such an equality is E404 with the line to add (docs/spec.md, "requires")."""

import importlib.util
import random
import re
from pathlib import Path

import attngen
import pytest
from attngen.cli import main
from requiring import run, write

# tokens (B, nq, C) folded into an H x W map, mixed by a depthwise conv, added back
MIXER = """\
name: TokenMixer
params:
  C: {type: int, example: 8}
  H: 7
  W: 5
requires:
  - nq == H * W
inputs:
  x: [B, nq, C]
graph:
  t:     {op: permute, in: x, dims: [0, 2, 1], shape: [B, C, nq]}
  grid:  {op: view, in: t, to: [B, C, H, W], shape: [B, C, H, W]}
  conv:  {op: Conv2d, args: [C, C, 3], padding: 1, groups: C, in: grid}
  flat:  {op: flatten, in: conv, start_dim: 2, shape: [B, C, H * W]}
  back:  {op: permute, in: flat, dims: [0, 2, 1], shape: [B, H * W, C]}
  out:   {op: add, in: [x, back], shape: [B, nq, C]}
outputs: out
"""

# the same mixing only when `mix` is true: the fact holds only there
CONDITIONAL = """\
name: MaybeMixer
params:
  C: {type: int, example: 8}
  H: 7
  W: 5
  mix: true
requires:
  - not mix or nq == H * W
inputs:
  x: [B, nq, C]
graph:
  t:     {when: mix, op: permute, in: x, dims: [0, 2, 1], shape: [B, C, nq]}
  grid:  {when: mix, op: view, in: t, to: [B, C, H, W], shape: [B, C, H, W]}
  conv:  {when: mix, op: Conv2d, args: [C, C, 3], padding: 1, groups: C, in: grid}
  flat:  {when: mix, op: flatten, in: conv, start_dim: 2, shape: [B, C, H * W]}
  back:  {when: mix, op: permute, in: flat, dims: [0, 2, 1], shape: [B, H * W, C]}
  out:
    cases:
      - {when: mix, op: add, in: [x, back]}
      - {when: not mix, op: mul, in: x, other: 2}
    shape: [B, nq, C]
outputs: out
"""


def built_module(tmp_path: Path, capsys, name: str, text: str):
    path = write(tmp_path, f"{name}.yaml", text)
    code, err = run(capsys, "build", "--no-svg", path, "-o", tmp_path / "out")
    assert code == 0, err
    loaded = importlib.util.spec_from_file_location(f"_eq_{name}", tmp_path / "out" / f"{name}.py")
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def test_an_equality_fact_makes_the_spec_check(tmp_path, capsys):
    assert run(capsys, "check", write(tmp_path, "mixer.yaml", MIXER)) == (0, "")


def test_without_the_fact_e404_gives_the_line_to_add(tmp_path, capsys):
    path = write(tmp_path, "bare.yaml", MIXER.replace("requires:\n  - nq == H * W\n", ""))
    code, err = run(capsys, "check", path)
    assert code == 1, err
    # the first node that needs it: the view's element count (B*C*nq vs B*C*H*W)
    assert re.search(r"bare\.yaml:10:3: error\[E404\]: node 'grid'", err), err
    assert "state it with requires: [nq == H*W]" in err, err
    path.write_text(path.read_text().replace("inputs:", "requires: [nq == H*W]\ninputs:"))
    assert run(capsys, "check", path) == (0, "")


def test_the_fact_is_a_substitution_not_a_sample(tmp_path):
    """The prover proves nq == H*W by rewriting nq, and every sample it draws satisfies
    the fact by construction, the first at the defaults (rejection found a few, by luck)."""
    import sympy
    from attngen.checker import input_dims
    from attngen.configs import param_env
    from attngen.prover import Prover, requirement_rewrites, valid_samples

    spec = attngen.load(write(tmp_path, "mixer.yaml", MIXER)).spec
    env = param_env(spec, {})
    dims = input_dims(spec, env)
    nq, h, w = sympy.symbols("nq H W", integer=True, positive=True)
    rewrites = requirement_rewrites(spec, env, dims)
    assert rewrites == {nq: h * w}
    assert Prover(rewrites, []).equal(nq, h * w) == (True, None)  # no samples to test on
    samples = list(valid_samples(spec, env, dims, random.Random(0)))
    # 24 random samples, then each input dim at 1, 2 and 3 with the params' values (nq is
    # set by the fact, not by the small size)
    assert len(samples) == 27 and all(s[nq] == s[h] * s[w] for s in samples)
    b = sympy.Symbol("B", integer=True, positive=True)
    assert [(s[b], s[nq]) for s in samples[-3:]] == [(1, 35), (2, 35), (3, 35)]
    assert (samples[0][h], samples[0][w], samples[0][nq]) == (7, 5, 35)


def test_the_generated_forward_enforces_the_fact(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    generated = built_module(tmp_path, capsys, "mixer", MIXER)
    module = generated.TokenMixer(C=4, H=3, W=2)
    assert module(torch.randn(2, 6, 4)).shape == (2, 6, 4)
    with pytest.raises(ValueError, match=r"TokenMixer: requires nq == H \* W"):
        module(torch.randn(2, 7, 4))


def test_a_wrong_fact_is_refused(tmp_path, capsys):
    # stating nq == H * W + 1 does not make nq == H * W: the checker still refuses the add
    wrong = MIXER.replace("nq == H * W", "nq == H * W + 1")
    code, err = run(capsys, "check", write(tmp_path, "wrong.yaml", wrong))
    assert code == 1 and "error[E403]: node 'grid'" in err, err
    # a fact over params only is checked at the defaults, and by the constructor
    params = MIXER.replace("  - nq == H * W\n", "  - nq == H * W\n  - H == W\n")
    code, err = run(capsys, "check", write(tmp_path, "square.yaml", params))
    assert code == 1 and "error[E405]" in err and "'H == W' does not hold" in err, err
    generated = built_module(tmp_path, capsys, "square",
                             params.replace("  W: 5\n", "  W: 7\n"))
    with pytest.raises(ValueError, match="requires H == W"):
        generated.TokenMixer(C=4, H=3, W=2)


def test_a_conditional_fact_applies_only_in_its_branch(tmp_path, capsys):
    assert run(capsys, "check", write(tmp_path, "maybe.yaml", CONDITIONAL)) == (0, "")
    # where `mix` is false the fact is not stated: the same add there is E404, and the
    # line to add is guarded by that configuration
    both = CONDITIONAL.replace("- {when: not mix, op: mul, in: x, other: 2}",
                               "- {when: not mix, op: add, in: [x, x]}").replace(
        "  t:     {when: mix, op", "  t:     {op").replace(
        "  grid:  {when: mix, op", "  grid:  {op")
    code, err = run(capsys, "check", write(tmp_path, "both.yaml", both))
    assert code == 1, err
    assert re.search(r"both\.yaml:\d+:3: error\[E404\]: node 'grid': .* \(when mix=False\)",
                     err), err
    assert "requires: [mix or nq == H*W]" in err, err


def test_a_conditional_fact_at_run_time(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    generated = built_module(tmp_path, capsys, "maybe", CONDITIONAL)
    x = torch.randn(2, 7, 4)  # 7 tokens: no 3 x 2 map
    assert torch.equal(generated.MaybeMixer(C=4, H=3, W=2, mix=False)(x), 2 * x)
    with pytest.raises(ValueError, match="requires not mix or nq == H"):
        generated.MaybeMixer(C=4, H=3, W=2, mix=True)(x)


def test_verify_draws_samples_in_both_branches(tmp_path, capsys):
    pytest.importorskip("torch")
    path = write(tmp_path, "maybe.yaml", CONDITIONAL)
    code = main(["verify", "-n", "4", "--no-export", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    mixed = re.findall(r"sample \d+: .*mix=True.*nq=(\d+)", out)
    assert mixed, out  # drawn with nq == H * W, not left to chance
    assert re.search(r"sample \d+: .*mix=False", out), out


def test_a_sub_specs_equality_is_e404_at_the_call(tmp_path, capsys):
    write(tmp_path, "mixer.yaml", MIXER)
    caller = """\
    name: Caller
    params:
      channels: {type: int, example: 8}
      side: 5
    inputs:
      tokens: [B, N, channels]
    graph:
      m: {use: mixer.yaml, C: channels, H: side, W: side, in: tokens}
    outputs: m
    """
    path = write(tmp_path, "caller.yaml", caller)
    code, err = run(capsys, "check", path)
    assert code == 1, err
    assert re.search(r"caller\.yaml:8:3: error\[E404\]: node 'm': TokenMixer requires "
                     r"nq == H \* W: here N == side\*\*2 is not always true", err), err
    assert "requires: [N == side**2]" in err, err
    path.write_text(path.read_text().replace("inputs:", "requires: [N == side**2]\ninputs:"))
    assert run(capsys, "check", path) == (0, "")


def test_no_equality_hint_where_the_dim_is_on_both_sides(tmp_path, capsys):
    """A conv that shrinks the map (padding 0) is a wrong spec, not a missing fact."""
    text = """\
    name: Shrink
    params:
      C: {type: int, example: 8}
    inputs:
      x: [B, C, L]
    graph:
      conv: {op: Conv1d, args: [C, C, 3], in: x, shape: [B, C, L]}
    outputs: conv
    """
    code, err = run(capsys, "check", write(tmp_path, "shrink.yaml", text))
    assert code == 1 and "error[E400]" in err and "requires:" not in err, err


@pytest.mark.parametrize("k", ["3", "{default: 3, choices: [1, 3]}"])
def test_a_guard_is_decided_per_configuration_int_or_choice(tmp_path, capsys, k):
    """`k == 1 or nq == H * W` where the fold runs whatever k: configurations split on the
    guard, an int param as a choice (tests/test_int_guards.py), so the fact holds where k
    is 3 (for an int k: every k but 1), and where k is 1 the fold is E404 with the line
    for that configuration only."""
    text = MIXER.replace("  W: 5\n", f"  W: 5\n  k: {k}\n").replace(
        "  - nq == H * W\n", "  - k == 1 or nq == H * W\n")
    code, err = run(capsys, "check", write(tmp_path, "guard.yaml", text))
    assert code == 1 and "error[E404]: node 'grid'" in err, err
    assert "(when k=1)" in err and "requires: [k != 1 or nq == H*W]" in err, err
    assert "(when k=3)" not in err and "the same in" not in err, err


# position biases sized for n tokens: the input must have N == n, written dim first
POSBIAS = """\
name: PosBias
params:
  d: {type: int, example: 8}
  n: 6
requires:
  - N == n
inputs:
  x: [B, N, d]
graph:
  bias: {param: [n, d], init: zeros}
  out: {op: add, in: [x, bias], shape: [B, N, d]}
outputs: out
"""


@pytest.mark.parametrize("fact", ["N == n", "n == N"])
def test_a_fact_reads_the_same_either_way_round(tmp_path, fact):
    """facts.py is the one reader of equality facts: the prover's substitution, verify's
    samples and the dims the constructor fixes are the same for `N == n` and `n == N`."""
    import sympy
    from attngen import facts
    from attngen.checker import input_dims
    from attngen.configs import param_env
    from attngen.prover import requirement_rewrites

    spec = attngen.load(write(tmp_path, "posbias.yaml",
                              POSBIAS.replace("N == n", fact))).spec
    env = param_env(spec, {})
    big_n, n = sympy.symbols("N n", integer=True, positive=True)
    assert requirement_rewrites(spec, env, input_dims(spec, env)) == {big_n: n}
    assert facts.fixed_dims(spec, {"d": 8, "n": 6}, ["B", "N"]) == {"N"}
    values = {"B": 2, "N": 5}
    sample = {"d": 8, "n": 6, **values}
    facts.impose_equalities(spec, sample, values)
    assert values == {"B": 2, "N": 6} and sample["N"] == 6


def test_a_guarded_fact_fixes_its_dim_only_where_it_holds(tmp_path):
    from attngen import facts

    spec = attngen.load(write(tmp_path, "maybe.yaml", CONDITIONAL)).spec
    params = {"C": 8, "H": 7, "W": 5}
    assert facts.fixed_dims(spec, {**params, "mix": True}, ["B", "nq"]) == {"nq"}
    assert facts.fixed_dims(spec, {**params, "mix": False}, ["B", "nq"]) == set()
    for mix, nq in [(True, 35), (False, 4)]:
        values = {"B": 2, "nq": 4}
        facts.impose_equalities(spec, {**params, "mix": mix, **values}, values)
        assert values["nq"] == nq


def test_verify_exports_with_the_dim_a_fact_fixes(tmp_path, capsys):
    pytest.importorskip("torch")
    code = main(["verify", "-n", "2", str(write(tmp_path, "posbias.yaml", POSBIAS))])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "export: dynamic B; fixed by the constructor: d, N" in out, out
    assert re.search(r"sample 2: d=\d+, n=(\d+), B=\d+, N=\1:", out), out
