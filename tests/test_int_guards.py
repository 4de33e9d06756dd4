"""Guards over int params (issue 13): `k == 1 or nq == H * W` with `k` a plain int param.

A configuration splits on each guard as on a `when:` (configs.conditions), so the guard has
one truth value over every value of `k` the configuration stands for: the fact is used
where it is false, its samples are drawn there, and an int param a configuration pins
stays a symbol over that region (docs/spec.md, "requires")."""

import importlib.util
import random
import re
from pathlib import Path

import pytest
from attngen.build import compile_spec
from attngen.checker import input_dims
from attngen.configs import param_env, region
from attngen.loader import Loader, load
from attngen.prover import requirement_rewrites, valid_samples
from requiring import run, write

# tokens folded into an H x W map and mixed there only when k > 1 (EMSA's ratio, small)
FOLD = """\
name: Fold
params:
  C: {type: int, example: 8}
  H: 7
  W: 5
  k: 3
requires:
  - k >= 1
  - k == 1 or nq == H * W
inputs:
  x: [B, nq, C]
graph:
  t:     {when: k > 1, op: permute, in: x, dims: [0, 2, 1], shape: [B, C, nq]}
  grid:  {when: k > 1, op: view, in: t, to: [B, C, H, W], shape: [B, C, H, W]}
  conv:  {when: k > 1, op: Conv2d, args: [C, C, 3], padding: 1, groups: C, in: grid}
  flat:  {when: k > 1, op: flatten, in: conv, start_dim: 2, shape: [B, C, H * W]}
  back:  {when: k > 1, op: permute, in: flat, dims: [0, 2, 1], shape: [B, H * W, C]}
  out:
    cases:
      - {when: k > 1, op: add, in: [x, back]}
      - {when: k == 1, op: mul, in: x, other: 2}
    shape: [B, nq, C]
outputs: out
"""


def _module(tmp_path: Path, capsys, text: str):
    path = write(tmp_path, "fold.yaml", text)
    code, err = run(capsys, "build", "--no-svg", path, "-o", tmp_path / "out")
    assert code == 0, err
    loaded = importlib.util.spec_from_file_location("_int_guard_fold",
                                                    tmp_path / "out" / "fold.py")
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def test_a_guard_over_an_int_param_makes_its_fact_usable(tmp_path, capsys):
    path = write(tmp_path, "fold.yaml", FOLD)
    assert run(capsys, "check", path) == (0, "")
    # the default k = 3 stands for every k > 1; k = 1 is checked apart
    assert compile_spec(path, Loader(), {}).configs == [{}, {"k": 1}]


def test_the_generated_module_takes_any_k(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    generated = _module(tmp_path, capsys, FOLD)
    x = torch.randn(2, 7, 4)  # 7 tokens: no 3 x 2 map
    assert torch.equal(generated.Fold(C=4, H=3, W=2, k=1)(x), 2 * x)
    for k in (2, 9, 12):  # no list of values: any k folds 6 tokens into the map
        assert generated.Fold(C=4, H=3, W=2, k=k)(torch.randn(2, 6, 4)).shape == (2, 6, 4)
        with pytest.raises(ValueError, match=r"requires k == 1 or nq == H \* W"):
            generated.Fold(C=4, H=3, W=2, k=k)(x)
    with pytest.raises(ValueError, match="requires k >= 1"):
        generated.Fold(C=4, H=3, W=2, k=0)


@pytest.mark.parametrize("guard, where", [
    ("k > 1", ""),        # the guard inverted: stated where the map is never folded
    ("k <= 3", ""),       # too wide: k = 2 and 3 fold without the fact (k = 3 the default)
    ("k == 2", "(when k=2)"),  # true at one value the default's region would hide
])
def test_a_mis_stated_int_guard_is_caught(tmp_path, capsys, guard, where):
    text = FOLD.replace("k == 1 or nq == H * W", f"{guard} or nq == H * W")
    code, err = run(capsys, "check", write(tmp_path, "wrong.yaml", text))
    assert code == 1, err
    assert re.search(r"wrong\.yaml:\d+:3: error\[E404\]: node 'grid'", err), err
    assert where in err and "nq == H*W" in err, err


def test_a_wrong_equality_under_an_int_guard_is_caught(tmp_path, capsys):
    text = FOLD.replace("nq == H * W", "nq == H * W + 1")
    code, err = run(capsys, "check", write(tmp_path, "plus.yaml", text))
    assert code == 1 and "error[E403]: node 'grid'" in err, err


def test_the_fold_without_its_guard_is_e404_only_where_the_guard_holds(tmp_path, capsys):
    """The fold runs whatever k: the fact, stated for k != 1 only, leaves k = 1 unproven,
    and the line to add is guarded by that configuration's region, in the words of the
    spec's first condition that tells it from the default's (`when: k > 1`)."""
    always = FOLD.replace("{when: k > 1, op: permute, in: x", "{op: permute, in: x").replace(
        "{when: k > 1, op: view", "{op: view")
    code, err = run(capsys, "check", write(tmp_path, "always.yaml", always))
    assert code == 1 and "error[E404]: node 'grid'" in err and "(when k=1)" in err, err
    assert "requires: [k > 1 or nq == H*W]" in err, err


def test_samples_are_drawn_in_the_configurations_region(tmp_path):
    spec = load(write(tmp_path, "fold.yaml", FOLD))
    for config, inside in [({}, lambda k: k > 1), ({"k": 1}, lambda k: k == 1)]:
        env = param_env(spec, config)
        dims = input_dims(spec, env)
        samples = list(valid_samples(spec, env, dims, random.Random(0)))
        values = [{str(s): int(v) for s, v in sample.items()} for sample in samples]
        assert len(values) > 5 and all(inside(v["k"]) for v in values), values
        assert (values[0]["k"], config.get("k", 3)) == (config.get("k", 3),) * 2
        if config:  # the fact is not used: nq is drawn free
            assert {str(s) for s in requirement_rewrites(spec, env, dims)} == set()
            assert any(v["nq"] != v["H"] * v["W"] for v in values), values
        else:  # the fact is a substitution the prover proves with, and samples keep it
            assert {str(k): str(v) for k, v in requirement_rewrites(spec, env, dims).items()
                    } == {"nq": "H*W"}
            assert all(v["nq"] == v["H"] * v["W"] for v in values), values


def test_a_pinned_int_param_stays_a_symbol_over_its_region(tmp_path, capsys):
    """The branch k > 1 beside the default k = 1 is checked at k = 2 as the value that
    takes it, and for every k > 1: a padding right only at k = 2 is refused."""
    text = """\
    name: Pad
    params:
      C: {type: int, example: 8}
      k: 1
    requires: [k >= 1]
    inputs:
      x: [B, C, L]
    graph:
      conv: {when: k > 1, op: Conv1d, args: [C, C, 3], padding: k - 1, in: x}
      out:
        cases:
          - {when: k > 1, op: add, in: [x, conv]}
          - {when: k == 1, op: identity, in: x}
        shape: [B, C, L]
    outputs: out
    """
    path = write(tmp_path, "pad.yaml", text)
    spec = load(path)
    env = param_env(spec, {"k": 2})
    assert getattr(env.sym["k"], "is_Symbol", False) and env.val["k"] == 2
    assert [(c.text, truth) for c, truth in region(spec, env)] == [("k > 1", True),
                                                                   ("k == 1", False)]
    code, err = run(capsys, "check", path)
    assert code == 1 and "(when k=2)" in err and "node 'out'" in err, err
    fixed = text.replace("padding: k - 1", "padding: 1")
    assert run(capsys, "check", write(tmp_path, "pad.yaml", fixed)) == (0, "")


def test_a_guard_through_a_let_is_split_on_too(tmp_path, capsys):
    """`not big or nq == H * W` with `big: k > 4`: the default k = 3 is the region k <= 4,
    where nothing folds and the fact is not used; k = 5 pinned for k > 4 folds with it."""
    text = FOLD.replace("requires:", "let:\n  big: k > 4\nrequires:").replace(
        "k == 1 or nq == H * W", "not big or nq == H * W").replace(
        "when: k > 1", "when: big").replace("when: k == 1", "when: not big")
    path = write(tmp_path, "big.yaml", text)
    assert run(capsys, "check", path) == (0, "")
    assert compile_spec(path, Loader(), {}).configs == [{}, {"k": 5}]
    spec = load(path)
    env = param_env(spec, {"k": 5})
    samples = list(valid_samples(spec, env, input_dims(spec, env), random.Random(1)))
    values = [{str(s): int(v) for s, v in sample.items()} for sample in samples]
    assert values and all(v["k"] > 4 and v["nq"] == v["H"] * v["W"] for v in values), values


def test_samples_read_lets_at_their_own_params(tmp_path):
    """A requirement on a let (`halves >= 2`, halves = C // 2) holds on every sample: the let
    is computed at the sample's C, not at the default's."""
    spec = load(write(tmp_path, "half.yaml", """\
    name: Half
    params:
      C: {type: int, example: 8}
    let:
      halves: C // 2
    requires: [halves >= 2]
    inputs:
      x: [B, C]
    graph:
      y: {op: relu, in: x}
    outputs: y
    """))
    env = param_env(spec, {})
    samples = list(valid_samples(spec, env, input_dims(spec, env), random.Random(0)))
    values = [int(v) for sample in samples for s, v in sample.items() if str(s) == "C"]
    assert len(values) > 5 and min(values) >= 4 and len(set(values)) > 2, values


# Involution's pool: a window of `stride` only where stride > 1
POOLED = """\
name: Pooled
params:
  stride: 1
inputs:
  x: [B, C, H, W]
graph:
  pool:
    cases:
      - {when: stride > 1, op: AvgPool2d, args: [stride, stride], in: x}
      - {when: stride == 1, op: Identity, in: x}
    shape: [B, C, H // stride, W // stride]
outputs: pool
"""


def test_a_region_s_line_holds_for_every_value_of_the_region(tmp_path, capsys):
    """The configuration pinned at stride=2 stands for every stride above 1: the line to
    add is guarded by `stride <= 1`, not `stride != 2` (which left stride 3 unproven), and
    the implied `stride == 1` is left out; pasted, it checks."""
    code, err = run(capsys, "check", write(tmp_path, "pooled.yaml", POOLED))
    assert code == 1 and "requires: [stride <= 1 or H >= stride, stride <= 1 or W >= stride]" \
        in err, err
    fixed = POOLED.replace("inputs:", "requires: [stride <= 1 or H >= stride, "
                                      "stride <= 1 or W >= stride]\ninputs:")
    code, err = run(capsys, "check", write(tmp_path, "fixed.yaml", fixed))
    assert code == 0, err
