"""Output sizes that shrink (issue 13, soundness): an op whose output size is a formula of
an input size that can fall below 1 (a conv or pooling window wider than a small input, a
crop, a downsampling) asks `requires` for the bound that keeps it at least 1, for every
size `requires` allows, not only at the defaults. Each case pastes the hints back until
the spec checks, then runs the module at the least sizes allowed, and below them, where
torch itself fails and the generated forward refuses the input first."""

from __future__ import annotations

import re

import attngen
import pytest
from attngen.cli import main
from requiring import run, write

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional

HEAD = re.compile(r"^\S+?:(\d+):\d+: error\[(E\d{3})\]: (.*)$", re.M)
HINT = re.compile(r"^  note: if the module relies on (?:it|them), state (?:it|them): "
                  r"requires: \[(.*)\]$", re.M)


def spec(graph: str, inputs: str, facts: list[str], params: str = "") -> str:
    requires = "requires:\n" + "".join(f"  - {f}\n" for f in facts) if facts else ""
    return (f"name: Shrink\nparams:\n  c: 4\n{params}{requires}inputs:\n{inputs}graph:\n"
            f"{graph}outputs: y\n")


def asked(tmp_path, capsys, graph: str, inputs: str, params: str = "",
          rounds: int = 1) -> tuple[list, list]:
    """The facts `check` asks for, every error's hints pasted back each round, and the
    errors, (line, code, message); the spec checks after `rounds` rounds (one where each
    node's bounds come in one error and the nodes after it are checked too)."""
    facts: list[str] = []
    errors = []
    for _ in range(rounds):
        path = write(tmp_path, "shrink.yaml", spec(graph, inputs, facts, params))
        code, err = run(capsys, "check", path)
        assert code == 1 and HINT.search(err), err
        errors += [(int(h[1]), h[2], h[3]) for h in HEAD.finditer(err)]
        facts += [fact for line in HINT.findall(err) for fact in line.split(", ")]
    path = write(tmp_path, "shrink.yaml", spec(graph, inputs, facts, params))
    assert run(capsys, "check", path) == (0, ""), f"still asking after {facts}"
    return facts, errors


X4, X3 = "  x: [B, c, H, W]\n", "  x: [B, c, L]\n"
# graph, inputs, the facts asked in order, the least input allowed, one below it, and the
# torch call the node stands for
CASES = {
    "conv unpadded": ("  y: {op: Conv2d, args: [c, c, 3], in: x}\n", X4,
                      ["H >= 3", "W >= 3"], (1, 4, 3, 3), (1, 4, 2, 3), nn.Conv2d(4, 4, 3)),
    "pool": ("  y: {op: MaxPool2d, kernel_size: 3, stride: 2, in: x}\n", X4,
             ["H >= 3", "W >= 3"], (1, 4, 3, 3), (1, 4, 3, 2), nn.MaxPool2d(3, 2)),
    "ceil_mode": ("  y: {op: AvgPool2d, kernel_size: 3, stride: 2, ceil_mode: true, in: x}\n",
                  X4, ["H >= 2", "W >= 2"], (1, 4, 2, 2), (1, 4, 1, 2),
                  nn.AvgPool2d(3, 2, ceil_mode=True)),
    "dilation": ("  y: {op: Conv2d, args: [c, c, 3], dilation: 2, in: x}\n", X4,
                 ["H >= 5", "W >= 5"], (1, 4, 5, 5), (1, 4, 4, 5),
                 nn.Conv2d(4, 4, 3, dilation=2)),
    "stride": ("  y: {op: Conv2d, args: [c, c, 3], stride: 2, in: x}\n", X4,
               ["H >= 3", "W >= 3"], (1, 4, 3, 3), (1, 4, 2, 3), nn.Conv2d(4, 4, 3, stride=2)),
    "strided twice": ("  a: {op: Conv2d, args: [c, c, 3], stride: 2, in: x}\n"
                      "  y: {op: Conv2d, args: [c, c, 3], stride: 2, in: a}\n", X4,
                      ["H >= 3", "W >= 3", "H >= 7", "W >= 7"], (1, 4, 7, 7), (1, 4, 6, 7),
                      nn.Sequential(nn.Conv2d(4, 4, 3, stride=2), nn.Conv2d(4, 4, 3, stride=2))),
    "conv1d": ("  y: {op: Conv1d, args: [c, c, 5], in: x}\n", X3,
               ["L >= 5"], (1, 4, 5), (1, 4, 4), nn.Conv1d(4, 4, 5)),
    "unfold": ("  y: {op: unfold, in: x, kernel_size: [2, 3], stride: 2}\n", X4,
               ["H >= 2", "W >= 3"], (1, 4, 2, 3), (1, 4, 2, 2),
               lambda x: F.unfold(x, (2, 3), stride=2)),
    "crop": ("  y: {op: pad, in: x, pad: [-2, -1]}\n", X4,
             ["W >= 4"], (1, 4, 1, 4), (1, 4, 1, 2), lambda x: F.pad(x, (-2, -1))),
    "downsampling": ("  y: {op: interpolate, in: x, scale_factor: 0.5}\n", X4,
                     ["H >= 2", "W >= 2"], (1, 4, 2, 2), (1, 4, 1, 2),
                     lambda x: F.interpolate(x, scale_factor=0.5)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_shrinking_output_asks_for_its_bound_and_the_module_holds_to_it(tmp_path, capsys,
                                                                          case):
    graph, inputs, facts, least, below, call = CASES[case]
    got, errors = asked(tmp_path, capsys, graph, inputs)
    assert got == facts
    line, code, message = errors[0]
    # at the node, naming the output size, where it falls below 1 and the bound
    assert (line, code) == (spec(graph, inputs, facts[:0]).splitlines().index(
        graph.splitlines()[0]) + 1, "E404"), message
    name = re.match(r"  (\w+):", graph)[1]
    size = facts[0].replace(" >= ", " < ")
    assert message.startswith(f"node '{name}': ") and f"falls below 1 where {size}" \
        in message, message
    path = write(tmp_path, "shrink.yaml", spec(graph, inputs, facts))
    loaded = attngen.load(str(path))
    module = attngen.compile(loaded)()
    x = torch.randn(*least)
    assert module(x).shape == call(x).shape  # the least sizes allowed run
    with pytest.raises(RuntimeError):  # one below, torch itself fails ...
        call(torch.randn(*below))
    with pytest.raises(ValueError, match="requires"):  # ... and forward refuses it first
        module(torch.randn(*below))


def test_a_bound_over_a_param_names_it(tmp_path, capsys):
    """A window of `k` on H needs H >= k; a fixed input of 7 needs k <= 7."""
    graph = "  y: {op: Conv2d, args: [c, c, [k, 1]], in: x}\n"
    facts, errors = asked(tmp_path, capsys, graph, X4, params="  k: 3\n")
    assert facts == ["H >= k"]
    assert "output dim 2, 1 + H - k, falls below 1 where H < k" in errors[0][2]
    facts, errors = asked(tmp_path, capsys, graph.replace("[k, 1]", "[1, k]"),
                          "  x: [B, c, H, 7]\n", params="  k: 3\n")
    assert facts == ["k <= 7"] and "falls below 1 where k > 7" in errors[0][2]


@pytest.mark.parametrize("graph, inputs, bad, error, fact, good", [
    ("  y: {op: AvgPool2d, args: [k], in: x}\n", "  x: [B, c, 4, 4]\n", 6,
     "the pooled output's dim 2, 1 + ((4 - k) // k), is 0 at the defaults (must be at least "
     "1)", "k <= 4", 3),
    ("  y: {op: pad, in: x, pad: [0, 0, 0, 2 - k]}\n", "  x: [B, c, 4, 4]\n", 6,
     "pad's output dim 2, 6 - k, is 0 at the defaults (must be at least 1)", "k <= 5", 3),
    ("  y: {op: arange, end: 2 * k, start: 6, in: x}\n", X4, 2,
     "arange's length, -6 + 2*k, is -2 at the defaults (must be at least 1)", "k >= 4", 5),
])
def test_a_bound_the_defaults_break_names_them_not_a_line(tmp_path, capsys, graph, inputs,
                                                          bad, error, fact, good):
    """A bound over params alone that fails at their defaults: `requires: [k <= 4]` would be
    E405 when pasted, so the error is the defaults (E402). Changed as its note says, the
    bound is a line to state (E404), and pasted, it checks."""
    path = write(tmp_path, "s.yaml", spec(graph, inputs, [], f"  k: {bad}\n"))
    code, err = run(capsys, "check", path)
    assert code == 1 and f"error[E402]: node 'y': {error}\n" in err, err
    assert f"note: defaults: k={bad}\n  note: change the defaults so that {fact} holds" in err
    assert "state it" not in err
    facts, errors = asked(tmp_path, capsys, graph, inputs, params=f"  k: {good}\n")
    assert facts == [fact] and errors[0][1] == "E404", errors


def test_a_configuration_states_its_bound_with_its_guard(tmp_path, capsys):
    graph = "  y: {op: Conv2d, args: [c, c, kernel_size], in: x}\n"
    facts, errors = asked(tmp_path, capsys, graph, X4,
                          params="  kernel_size: {default: 1, choices: [1, 3]}\n")
    assert facts == ["kernel_size != 3 or H >= 3", "kernel_size != 3 or W >= 3"]
    assert errors[0][2].endswith("(when kernel_size=3)")


def test_arange_past_its_end_asks_for_the_bound(tmp_path, capsys):
    """torch.arange(2, W) is empty for W <= 2; the checker's sizes are at least 1."""
    facts, _ = asked(tmp_path, capsys, "  y: {op: arange, in: x, end: W, start: 2}\n", X4)
    assert facts == ["W >= 3"]


def test_a_bound_through_a_sub_spec_is_solved_for_the_callers_dim(tmp_path, capsys):
    """A sub-spec requiring H >= 5 of a map pooled by 2: the caller states N >= 10, not
    N // 2 >= 5."""
    write(tmp_path, "inner.yaml", "name: Inner\nparams:\n  c: 4\nrequires: [H >= 5]\n"
          "inputs:\n  x: [B, c, H, W]\ngraph:\n  y: {op: Conv2d, args: [c, c, [5, 1]], in: x}\n"
          "outputs: y\n")
    graph = ("  down: {op: MaxPool2d, kernel_size: 2, in: x}\n"
             "  y: {use: inner.yaml, c: c, in: down}\n")
    facts, errors = asked(tmp_path, capsys, graph, "  x: [B, c, N, M]\n")
    assert facts == ["N >= 2", "M >= 2", "N >= 10"]
    assert errors[1][2] == "node 'y': Inner's requirement H >= 5 needs N >= 10, which " \
        "`requires` does not state"


@pytest.mark.parametrize("node", [
    "{op: Conv2d, args: [c, c, 3], padding: 1, in: x}",  # "same"
    "{op: Conv2d, args: [c, c, 3], padding: 1, stride: 2, in: x}",
    "{op: Conv2d, args: [c, c, k], padding: k // 2, in: x}",  # odd or even k
    "{op: Conv2d, args: [c, c, 1], stride: 3, in: x}",
    "{op: MaxPool2d, kernel_size: 3, stride: 2, padding: 1, in: x}",
    "{op: AvgPool2d, kernel_size: 2, ceil_mode: true, in: x}",  # ceil(H / 2)
    "{op: AdaptiveAvgPool2d, args: [1], in: x}",
    "{op: unfold, in: x, kernel_size: 3, padding: 1, stride: 2}",
    "{op: interpolate, in: x, scale_factor: 2}",
    "{op: pad, in: x, pad: [1, 2]}",
])
def test_an_output_that_cannot_shrink_needs_no_bound(tmp_path, capsys, node):
    path = write(tmp_path, "keep.yaml", spec(f"  y: {node}\n", X4, [], "  k: 3\n"))
    assert run(capsys, "check", path) == (0, "")


def test_a_wrong_annotation_is_reported_before_the_bound(tmp_path, capsys):
    """An unpadded conv annotated as keeping H is a wrong shape (E400), not a bound to
    state: the annotation is unified first."""
    graph = "  y: {op: Conv2d, args: [c, c, 3], in: x, shape: [B, c, H, W]}\n"
    code, err = run(capsys, "check", write(tmp_path, "s.yaml", spec(graph, X4, [])))
    assert code == 1 and "error[E400]" in err and "E404" not in err, err


def test_a_fixed_size_too_small_for_the_window_is_an_error(tmp_path, capsys):
    graph = "  y: {op: Conv2d, args: [c, c, 3], in: x}\n"
    code, err = run(capsys, "check", write(tmp_path, "s.yaml",
                                           spec(graph, "  x: [B, c, 2, 5]\n", [])))
    assert code == 1 and "error[E403]: node 'y': Conv2d's output dim 2 is 0 (must be at " \
        "least 1)" in err, err


def test_a_bound_stated_through_a_let_holds(tmp_path, capsys):
    """`requires: [h_r >= 1]` with h_r a let over the int param H: the samples judge it at
    their own H (they judged it at the default's, and drew H = 1)."""
    text = ("name: Let\nparams:\n  c: 4\n  H: 7\nlet:\n  h_r: H - 2\nrequires: [h_r >= 1]\n"
            "inputs:\n  x: [B, c, H, H]\ngraph:\n  y: {op: Conv2d, args: [c, c, [3, 1]], in: x}\n"
            "outputs: y\n")
    assert main(["check", "-q", str(write(tmp_path, "let.yaml", text))]) == 0, \
        capsys.readouterr().err
