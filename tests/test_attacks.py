"""The attack shapes of issue 18, fuzzed, each with an oracle that sees a silent failure.

- Colliding class names: several sub-spec files with the same `name:`, and a main class,
  alias or param named like a sub-spec's class. Oracle: located errors, or a module whose
  output equals a reference computed here with torch (independent of attngen) and that
  `attngen verify` passes.
- Generated-local names (`item`, `layer`, `m`, the class names, ...) as dims, params, lets,
  loop variables and node names. Same oracle.
- `use:`/`each` fan-out, diamonds, long chains and expression bombs. Oracle: `check` and
  `build` in a child process under a memory cap and a time limit end in success or in
  located errors, with no MemoryError or failed allocation on the way.
- Symbolic links and special files in the output tree. Oracle: no byte written, removed or
  read outside `-o` (a sentinel folder next to it is compared before and after), no hang,
  success or located errors, and nothing in `-o` changed by a command that failed.
- Terminal escapes and Markdown/HTML in every text field and in file names. Oracle: no raw
  control character in any command's output, no raw `<` outside code spans in docs pages.

Every test replays the same cases on each run (derandomized), sized by the hypothesis
profile (tests/conftest.py): a few cases each in the default run, many in `pytest -m slow`
(ATTNGEN_FUZZ_EXAMPLES=N: N new random cases per slow test). Each strategy starts with
explicit examples of the defects issue 18 reported. Cases that run in a child process are
not shrunk (each try costs a process start, a hang the whole time limit).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from attngen import render
from conftest import REPO_ROOT
from fuzzing import (
    Result,
    assert_located_errors,
    assert_shown_not_sent,
    link_targets,
    load_generated,
    outside_code,
    q,
    run_cli,
    run_limited,
)
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RANDOM_EXAMPLES = int(os.environ.get("ATTNGEN_FUZZ_EXAMPLES", "0"))


def _settings(share: float, *, slow: bool, shrink: bool = True) -> settings:
    """The current (or the slow) profile, `share` of its max_examples cases (at least 1);
    with ATTNGEN_FUZZ_EXAMPLES=N the slow tests draw N new random cases (as test_fuzz)."""
    base = settings.get_profile("slow") if slow else settings.default
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    cases = max(1, round(share * base.max_examples))
    if slow and RANDOM_EXAMPLES:
        base, cases = settings(base, derandomize=False), RANDOM_EXAMPLES
    return settings(base, max_examples=cases, phases=phases)


def _dump(tree) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=1 << 20)


def _write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# -- silent wrong modules: the oracle ------------------------------------------------------
def _assert_right_module(spec: Path, out: Path, class_name: str, aliases: list[str],
                         reference, shape: tuple[int, ...]) -> Result:
    """Build `spec`: located errors, or a module equal to `reference` that verify passes."""
    import torch

    res = run_cli(["build", "--no-svg", spec, "-o", out])
    if res.code != 0:
        assert_located_errors(res)
        return res
    module = load_generated(out / f"{spec.stem}.py")
    cls = getattr(module, class_name)
    for alias in aliases:
        assert getattr(module, alias) is cls, f"alias {alias} is not {class_name}"
    torch.manual_seed(0)
    x = torch.randn(*shape)
    try:
        got = cls().eval()(x)
    except Exception as exc:
        raise AssertionError(f"the built {class_name} does not run: {exc!r}") from exc
    want = reference(x)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want), (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape, f"output {i}: shape {tuple(g.shape)}, want {tuple(w.shape)}"
        assert torch.allclose(g, w, atol=1e-5), f"output {i}: values differ from the reference"
    verified = run_cli(["verify", "-n", "1", "--no-export", spec])
    assert verified.code == 0, verified.out + verified.err
    return res


# -- colliding class names -----------------------------------------------------------------
# Sub-spec bodies on [B, C] (each %s: the node's input), and what each computes.
BODIES = {
    "sigmoid": "{op: Sigmoid, in: %s}",
    "tanh": "{op: Tanh, in: %s}",
    "relu": "{op: ReLU, in: %s}",
    "triple": "{op: mul, in: %s, other: 3}",
    "double": "{op: cat, in: [%s, %s], dim: 1}",  # [B, C] -> [B, 2C]
}
SUB_PATHS = ["blk.yaml", "a/blk.yaml", "b/blk.yaml", "a/b/blk.yaml", "gate.yaml", "c/gate.yaml"]
CLASS_NAMES = ["Block", "Gate", "Main"]


def _apply(body: str, x):
    """What BODIES[body] computes, written with torch."""
    import torch

    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "triple": lambda t: t * 3, "double": lambda t: torch.cat([t, t], 1)}[body](x)


@dataclass
class Sub:
    path: str
    name: str
    steps: list = field(default_factory=list)  # body names, or ("use", index of a later sub)


@dataclass
class Collision:
    subs: list[Sub]
    name: str
    aliases: list[str]
    param: str | None  # an int param (default 2) the output is multiplied by
    calls: list[tuple[str, int]]  # (node name, index of the sub-spec it uses)

    def files(self) -> dict[str, str]:
        files = {}
        for sub in self.subs:
            lines, last = [], "x"
            for i, step in enumerate(sub.steps):
                if isinstance(step, tuple):
                    target = Path(os.path.relpath(self.subs[step[1]].path,
                                                  Path(sub.path).parent)).as_posix()
                    body = f"{{use: {target}, in: {last}}}"
                else:
                    body = BODIES[step] % ((last,) * BODIES[step].count("%s"))
                lines.append(f"  y{i}: {body}")
                last = f"y{i}"
            files[sub.path] = (f"name: {sub.name}\ninputs:\n  x: [B, C]\ngraph:\n"
                               + "\n".join(lines) + f"\noutputs: {last}\n")
        lines, last = [], "x"
        for node, index in self.calls:
            lines.append(f"  {node}: {{use: {self.subs[index].path}, in: {last}}}")
            last = node
        params = ""
        if self.param:
            params = f"params:\n  {self.param}: 2\n"
            lines.append(f"  scaled: {{op: mul, in: {last}, other: {self.param}}}")
            last = "scaled"
        aliases = f"aliases: [{', '.join(self.aliases)}]\n" if self.aliases else ""
        files["main.yaml"] = (f"name: {self.name}\n{aliases}{params}inputs:\n  x: [B, C]\n"
                              "graph:\n" + "\n".join(lines) + f"\noutputs: {last}\n")
        return files

    def run_sub(self, index: int, x):
        for step in self.subs[index].steps:
            x = self.run_sub(step[1], x) if isinstance(step, tuple) else _apply(step, x)
        return x

    def reference(self, x):
        for _, index in self.calls:
            x = self.run_sub(index, x)
        return x * 2 if self.param else x


def _often(draw, usual: str, odd: list[str]) -> str:
    """`usual` in about half the draws, else one of `odd` (names that may collide)."""
    return draw(st.sampled_from([usual] * len(odd) + odd))


@st.composite
def collisions(draw) -> Collision:
    paths = draw(st.lists(st.sampled_from(SUB_PATHS), min_size=2, max_size=4, unique=True))
    subs = []
    for i, path in enumerate(paths):
        steps = draw(st.lists(st.sampled_from(sorted(BODIES)), min_size=1, max_size=2))
        if i + 1 < len(paths) and draw(st.booleans()):  # a sub-spec of a sub-spec
            steps.insert(draw(st.integers(0, len(steps))),
                         ("use", draw(st.integers(i + 1, len(paths) - 1))))
        subs.append(Sub(path, _often(draw, f"Sub{i}", CLASS_NAMES), steps))
    names = CLASS_NAMES + ["Top"]
    calls = draw(st.lists(st.integers(0, len(subs) - 1), min_size=1, max_size=4))
    nodes = [_often(draw, f"n{i}", [names[i]]) for i in range(len(calls))]
    aliases = draw(st.lists(st.sampled_from(names + ["Alias"]), max_size=2, unique=True))
    param = draw(st.sampled_from([None, None, "scale", *CLASS_NAMES]))
    return Collision(subs, _often(draw, "Top", CLASS_NAMES), aliases, param,
                     list(zip(nodes, calls, strict=True)))


# Issue 18's reports: two files both `name: Block` (item 1); a main class, an alias and a
# param named like a sub-spec's class (item 2).
TWO_BLOCKS = Collision([Sub("a/blk.yaml", "Block", ["sigmoid"]),
                        Sub("b/blk.yaml", "Block", ["tanh"])], "Main", [], None,
                       [("p", 0), ("q", 1)])
BLOCK = [Sub("blk.yaml", "Block", ["relu"])]
MAIN_IS_BLOCK = Collision(BLOCK, "Block", [], None, [("p", 0)])
ALIAS_IS_BLOCK = Collision(BLOCK, "Main", ["Block"], None, [("p", 0)])
PARAM_IS_BLOCK = Collision(BLOCK, "Main", [], "Block", [("p", 0)])


def _collision_case(folder: Path, case: Collision) -> Result:
    shutil.rmtree(folder, ignore_errors=True)
    _write(folder, case.files())
    return _assert_right_module(folder / "main.yaml", folder / "out", case.name, case.aliases,
                                case.reference, (2, 3))


def _fuzz_collisions(tmp_path_factory, *, slow: bool) -> None:
    folder = tmp_path_factory.mktemp("collide") / "case"
    built = []

    @_settings(0.06, slow=slow)
    @example(TWO_BLOCKS)
    @example(MAIN_IS_BLOCK)
    @example(ALIAS_IS_BLOCK)
    @example(PARAM_IS_BLOCK)
    @given(case=collisions())
    def check(case):
        built.append(_collision_case(folder, case).code == 0)

    check()
    assert any(built), "no case built: the strategy tests only refusals"


def test_colliding_class_names(tmp_path_factory):
    _fuzz_collisions(tmp_path_factory, slow=False)


@pytest.mark.slow
def test_long_colliding_class_names(tmp_path_factory):
    _fuzz_collisions(tmp_path_factory, slow=True)


# -- generated-local names -----------------------------------------------------------------
# A spec that binds a name in every role the generated code has one (class, alias, params,
# a let, an input, dims, a loop variable, nodes, `out` names) and a sub-spec used in an
# `each`. A case renames some roles to names the emitter binds itself or that collide.
ROLES = {  # role -> its usual name
    "cls": "Top", "alias": "TopAlias", "sub_cls": "Sub", "p": "p", "ks": "ks", "l": "l",
    "x": "x", "d0": "d0", "d1": "d1", "v": "v", "n1": "n1", "n2": "n2", "n3": "n3", "n4": "n4",
    "n5": "n5", "n6": "n6", "n7": "n7", "o1": "o1", "o2": "o2",
    "sp": "sp", "sx": "sx", "sd0": "sd0", "sd1": "sd1", "sn": "sn", "sn2": "sn2",
}
# Names the generated code binds (comprehension and loop variables, helpers, modules, the
# classes), nn.Module attributes and builtins it calls, and the usual names of other roles.
LOCAL_NAMES = ["item", "layer", "m", "seq", "name", "x", "self", "torch", "nn", "F", "math",
               "super", "float", "range", "ModuleList", "Module", "init_weights", "forward",
               "training", "B", "C", "k", "y", "out", "Top", "TopAlias", "Sub", "p", "l", "v",
               "d1", "n3", "o1", "sp", "sx", "x_1", "Out", "sub", "main", "cls", "result"]
# Written as text, so that two roles given one name are two YAML keys, as a user would write
# them (a Python dict would merge them silently).
LOCAL_SUB = """\
name: {sub_cls}
params:
  {sp}: 1
inputs:
  {sx}: [{sd0}, {sd1}]
graph:
  {sn}: {{op: Sigmoid, in: {sx}}}
  {sn2}: {{op: mul, in: {sn}, other: {sp}}}
outputs: {sn2}
"""
LOCAL_MAIN = """\
name: {cls}
aliases: [{alias}]
params:
  {p}: 2
  {ks}: [1, 3]
let:
  {l}: {p} + 1
inputs:
  {x}: [{d0}, {d1}]
graph:
  {n1}: {{each: {v} in {ks}, use: sub.yaml, {sp}: {v}, in: {x}}}
  {n2}: {{op: mul, map: true, in: {n1}, other: {d1}}}
  {n3}: {{op: cat, in: {n2}, dim: 1}}
  {n4}: {{op: mul, in: {n3}, other: {l}}}
  {n5}: {{op: split, in: {n4}, split_size_or_sections: [{d1}, {d1}], dim: 1, out: [{o1}, {o2}]}}
  {n6}: {{op: sub, in: [{o1}, {o2}]}}
  {n7}: {{op: reshape, in: {n6}, to: [{d0}, {d1}, 1]}}
outputs: [{n7}, {n3}]
"""


def local_files(names: dict[str, str]) -> dict[str, str]:
    return {"sub.yaml": LOCAL_SUB.format(**names), "main.yaml": LOCAL_MAIN.format(**names)}


def local_input_shape(names: dict[str, str]) -> tuple[int, int]:
    """The input's shape: a dim named like a param or a let is that value (p=2, l=3); the
    other dims get 2 and 3 (one name, one value)."""
    fixed = {names["p"]: 2, names["l"]: 3}
    free = {names["d0"]: 2} if names["d0"] not in fixed else {}
    free.setdefault(names["d1"], 3)
    return fixed.get(names["d0"], free.get(names["d0"])), fixed.get(names["d1"], free[names["d1"]])


def local_reference(x):
    """What the spec computes for the defaults p=2, ks=[1, 3] on x: [d0, d1]."""
    import torch

    d1 = x.shape[1]
    n2 = [torch.sigmoid(x) * k * d1 for k in (1, 3)]
    n3 = torch.cat(n2, dim=1)
    o1, o2 = torch.split(n3 * 3, [d1, d1], dim=1)
    return (o1 - o2).reshape(x.shape[0], d1, 1), n3


@st.composite
def local_names(draw) -> dict[str, str]:
    names = dict(ROLES)
    for role in draw(st.lists(st.sampled_from(sorted(ROLES)), min_size=1, max_size=2)):
        names[role] = draw(st.sampled_from(LOCAL_NAMES))
    return names


# Issue 18 item 3: a dim named `item` read inside the `map:` comprehension over `item`;
# item 2 in the roles of this spec: a param and a node of the sub-spec's class name.
DIM_ITEM = {**ROLES, "d1": "item"}
PARAM_SUB = {**ROLES, "p": "Sub"}
CLASS_SHADOWS_SUB = {**ROLES, "cls": "Sub"}


def _fuzz_locals(tmp_path_factory, *, slow: bool) -> None:
    folder = tmp_path_factory.mktemp("locals") / "case"
    built = []

    @_settings(0.06, slow=slow)
    @example(DIM_ITEM)
    @example(PARAM_SUB)
    @example(CLASS_SHADOWS_SUB)
    @given(names=local_names())
    def check(names):
        shutil.rmtree(folder, ignore_errors=True)
        _write(folder, local_files(names))
        res = _assert_right_module(folder / "main.yaml", folder / "out", names["cls"],
                                   [names["alias"]], local_reference, local_input_shape(names))
        built.append(res.code == 0)

    check()
    assert any(built), "no case built: the strategy tests only refusals"


def test_usual_names_build_the_reference(tmp_path):
    """The template itself builds, runs as local_reference says, and verifies."""
    _write(tmp_path, local_files(ROLES))
    res = _assert_right_module(tmp_path / "main.yaml", tmp_path / "out", "Top", ["TopAlias"],
                               local_reference, (2, 3))
    assert res.code == 0, res.err


def test_generated_local_names(tmp_path_factory):
    _fuzz_locals(tmp_path_factory, slow=False)


@pytest.mark.slow
def test_long_generated_local_names(tmp_path_factory):
    _fuzz_locals(tmp_path_factory, slow=True)


# -- expression strings that look like generated code --------------------------------------
# A string literal inside an expression must stay that string in the generated source, whatever
# it holds (issue 18 item 15: a text replace of `float('inf')` broke the quoting).
CODE_LIKE = ["a float('inf') b", "float('-inf')", "x') + float('inf", "inf", "float(\"inf\")",
             "mean=0.0, ", "{0}", "\\'", "self.x", "'''"]
LITERAL_FIELDS = ["let", "requires", "when"]


def _literal_spec(field: str, text: str) -> str:
    """A spec with the Python string literal of `text` in one expression field."""
    lit = repr(text)
    when = q(f"mode != {lit}" if field == "when" else "mode == 'b'")
    return ("name: Lit\nparams:\n  mode: {default: a, choices: [a, b]}\n"
            + {"let": f"let:\n  tag: {q(lit)}\n",
               "requires": f"requires:\n  - {q(f'mode != {lit}')}\n"}.get(field, "")
            + "inputs:\n  x: [B, C]\ngraph:\n  y: {op: Sigmoid, in: x}\n"
            f"  z: {{op: ReLU, in: y, when: {when}}}\noutputs: [y, {{name: z, when: {when}}}]\n")


@pytest.mark.parametrize("field", LITERAL_FIELDS)
def test_expression_strings_that_look_like_generated_code(tmp_path, field):
    for i, text in enumerate(CODE_LIKE):
        spec = tmp_path / f"lit{i}.yaml"
        spec.write_text(_literal_spec(field, text), encoding="utf-8")
        res = run_cli(["build", "--no-svg", spec, "-o", tmp_path / "out"])
        if res.code != 0:
            assert_located_errors(res)
            continue
        module = load_generated(tmp_path / "out" / f"{spec.stem}.py")  # a SyntaxError before
        lit = module.Lit(mode="a")
        if field == "let":
            assert lit.tag == text


# -- fan-out: `use:` x `each`, diamonds, chains, expression bombs --------------------------
MEMORY_MIB = 1536  # the child's address space: far above what a build within budget needs
TIME_LIMIT = 120  # seconds: a hang detector (a build within budget takes a few seconds)


@dataclass
class FanOut:
    """Spec files l0.yaml (the one built) ... l{n-1}.yaml; level i calls level i + 1."""
    calls: list[list[int]]  # per level but the last: its calls of the next level (0: plain
    #                         `use:`, w > 0: an `each` over w items)
    choices: list[int]  # per level: values of a `choices` param the level's `cases` read
    bomb: str | None = None  # an annotation of the last level's node
    broken: bool = False  # the last level's node names an op that does not exist

    def files(self) -> dict[str, str]:
        files = {}
        n = len(self.calls) + 1
        for i in range(n):
            values = [chr(ord("a") + j) for j in range(max(self.choices[i], 1))]
            params = f"params:\n  k0: 1\n  mode: {{default: a, choices: [{', '.join(values)}]}}\n"
            lines, last = [], "x"
            for j, width in enumerate(self.calls[i] if i < n - 1 else []):
                target = f"l{i + 1}.yaml"
                if width:
                    items = ", ".join(str(k) for k in range(1, width + 1))
                    lines.append(f"  c{j}: {{each: 'k in [{items}]', use: {target}, k0: k, "
                                 f"in: {last}}}")
                    lines.append(f"  s{j}: {{op: add, in: c{j}}}")
                    last = f"s{j}"
                else:
                    lines.append(f"  c{j}: {{use: {target}, k0: k0 + {j}, in: {last}}}")
                    last = f"c{j}"
            if i == n - 1:
                shape = f", shape: [B, {self.bomb}]" if self.bomb else ""
                op = "Nope" if self.broken else "mul"
                lines.append(f"  y: {{op: {op}, in: x, other: k0{shape}}}")
                last = "y"
            if len(values) > 1:
                lines.append(f"  g:\n    cases:\n      - {{when: mode == 'a', op: Sigmoid, "
                             f"in: {last}}}\n      - {{when: mode != 'a', op: Tanh, in: {last}}}")
                last = "g"
            files[f"l{i}.yaml"] = (f"name: L{i}\n{params}inputs:\n  x: [B, C]\ngraph:\n"
                                   + "\n".join(lines) + f"\noutputs: {last}\n")
        return files


def _bomb(draw) -> str:
    text = draw(st.sampled_from(["B + C", "B + 1", "C", "B * C + 2"]))
    for _ in range(draw(st.integers(1, 3))):
        text = f"({text}) ** {draw(st.integers(2, 8))} + {draw(st.integers(0, 3))}"
    return text


@st.composite
def fan_outs(draw) -> FanOut:
    shape = draw(st.sampled_from(["fan", "fan", "chain", "diamond"]))
    if shape == "chain":  # one plain `use:` per level, many levels
        depth = draw(st.integers(2, 200))
        calls = [[0]] * depth
    elif shape == "diamond":  # two plain `use:` per level: 2 ** depth calls of the last
        calls = [[0, 0]] * draw(st.integers(2, 20))
    else:
        calls = draw(st.lists(st.lists(st.sampled_from([0, 1, 2, 8, 16, 40, 64]), min_size=1,
                                       max_size=3), min_size=1, max_size=6))
    choices = [draw(st.sampled_from([0, 0, 2, 3, 8])) for _ in range(len(calls) + 1)]
    return FanOut(calls, choices, _bomb(draw) if draw(st.booleans()) else None)


# Issue 18's reports: a linear chain that `check` met with RecursionError (item 7), two
# `use:` per level sixteen deep whose diagram rendering took gigabytes (item 6), `each`
# x `use:` three levels deep (item 6), an expression whose expansion took gigabytes (item 5).
CHAIN = FanOut([[0]] * 200, [0] * 201)
DIAMOND = FanOut([[0, 0]] * 16, [0] * 17)
DEEP_DIAMOND = FanOut([[0, 0]] * 17, [0] * 18)  # past the depth budget on 2 ** 17 paths
EACH_USE = FanOut([[64], [64], [64]], [8, 8, 8, 8])
EXPANSION = FanOut([], [0], "((B + C + 1) ** 8 + 1) ** 8")


# A spec file read over and over is work past the budgets: a build that keeps what it
# loaded (a visited set, failures included) reads each file once per command.
MAX_READS = 2


def _assert_within_budget(folder: Path, case: FanOut) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    _write(folder, case.files())
    argvs = [["check", "l0.yaml"], ["build", "l0.yaml", "-o", "out"]]
    ran = run_limited(argvs, folder, timeout=TIME_LIMIT, memory_mib=MEMORY_MIB)
    for argv, res, opened in zip(argvs, ran.results, ran.opened, strict=True):
        if res.code != 0:
            assert_located_errors(res, located=False)
        for sign in ("MemoryError", "memory allocation", "RecursionError"):
            assert sign not in res.err, f"{argv[0]}: {sign} (peak {ran.peak_mib:.0f} MiB)"
        reread = {Path(p).name: n for p, n in opened.items() if n > MAX_READS}
        assert not reread, f"{argv[0]}: spec files read again and again: {reread}"


def test_small_fan_outs_build(tmp_path):
    """The shapes the fan-out strategy draws are specs attngen builds, when small."""
    cases = [FanOut([[0]] * 3, [0] * 4), FanOut([[0, 0]] * 2, [2, 0, 3]),
             FanOut([[3, 0], [2]], [0, 2, 0]), FanOut([[2]], [0, 0], "(B + C) ** 2 + 1")]
    for i, case in enumerate(cases):
        _write(tmp_path / str(i), case.files())
        res = run_cli(["build", "--no-svg", tmp_path / str(i) / "l0.yaml", "-o", tmp_path / "out"])
        if case.bomb:  # an annotation that does not hold: refused at it
            assert_located_errors(res)
            assert "error[E400]" in res.err and "l1.yaml:" in res.err, res.err
        else:
            assert res.code == 0, (case, res.err)


# Found by this fuzzer (DEEP_DIAMOND, and a diamond with a bad annotation at the bottom): a
# sub-spec that failed was loaded or checked again at every `use:` of it, so an error at the
# bottom of a diamond cost 2 ** depth loads or checks; a failure is now kept like a success.


def test_a_failing_sub_spec_is_read_once(tmp_path):
    cases = {"error": FanOut([[0, 0]] * 6, [0] * 7, broken=True),  # E401 at the bottom
             "depth": FanOut([[0]] * 14 + [[0, 0]] * 3, [0] * 18)}  # E107 below 3 diamonds
    for name, case in cases.items():
        _write(tmp_path / name, case.files())
    ran = run_limited([["check", f"{name}/l0.yaml"] for name in cases], tmp_path,
                      timeout=TIME_LIMIT, memory_mib=MEMORY_MIB)
    for name, res, opened in zip(cases, ran.results, ran.opened, strict=True):
        assert_located_errors(res)
        assert ("error[E401]" if name == "error" else "error[E107]") in res.err, res.err
        assert max(opened.values()) <= MAX_READS, (name, opened)


def test_a_failing_sub_spec_is_checked_once(tmp_path, monkeypatch):
    from collections import Counter

    from attngen import checker

    checks: Counter = Counter()
    check = checker.check

    def counted(spec, *args, **kwargs):
        checks[Path(spec.path).name] += 1
        return check(spec, *args, **kwargs)

    monkeypatch.setattr(checker, "check", counted)
    _write(tmp_path, FanOut([[0, 0]] * 6, [0] * 7, "C + 1").files())  # E400 at the bottom
    res = run_cli(["check", tmp_path / "l0.yaml"])
    assert_located_errors(res)
    assert "l6.yaml:" in res.err and "error[E400]" in res.err, res.err
    assert max(checks.values()) <= MAX_READS, checks


def _fuzz_fan_out(tmp_path_factory, *, slow: bool) -> None:
    folder = tmp_path_factory.mktemp("fan") / "case"

    @_settings(0.02, slow=slow, shrink=False)  # each case runs in a child: no shrinking
    @given(case=fan_outs())
    def check(case):
        _assert_within_budget(folder, case)

    examples = [CHAIN] + ([DIAMOND, DEEP_DIAMOND, EACH_USE, EXPANSION] if slow else [])
    for case in examples:
        check = example(case)(check)
    check()


def test_fan_out_within_budgets(tmp_path_factory):
    _fuzz_fan_out(tmp_path_factory, slow=False)


@pytest.mark.slow
def test_long_fan_out_within_budgets(tmp_path_factory):
    _fuzz_fan_out(tmp_path_factory, slow=True)


# -- symbolic links and special files in the output tree -----------------------------------
# What each command writes under -o (relative paths; "img" is a folder).
COMMANDS = {
    "build": (["build"], ["se.py", "se.dot", "se.svg"]),
    "build --no-svg": (["build", "--no-svg"], ["se.py", "se.dot"]),
    "build --check": (["build", "--check"], ["se.py", "se.dot", "se.svg"]),
    "docs": (["docs"], ["se.md", "README.md", "img", "img/se.svg", "img/palette.svg"]),
    "docs --check": (["docs", "--check"], ["se.md", "README.md", "img", "img/se.svg"]),
    "diagram": (["diagram"], ["se.svg"]),
}
# What `--check` says when the outputs differ from what it would write (exit 1).
STALE = re.compile(r"attngen: \d+ \w+ file\(s\) out of date; run `[^\n]*`\n")
HAZARDS = ["stale", "link_file", "link_dir", "dev_zero", "fifo", "link_fifo", "dangling", "loop",
           "folder", "hardlink", "leftover_link", "leftover_hardlink"]


def _outside(root: Path) -> Path:
    """The sentinel folder next to -o: files, a folder, a FIFO that links may point at."""
    outside = root / "outside"
    (outside / "dir").mkdir(parents=True)
    for name in ("victim.txt", "hard.txt", "dir/inner.txt"):
        (outside / name).write_text(f"outside: {name}\n")
    os.mkfifo(outside / "fifo")
    return outside


def _plant(out: Path, rel: str, hazard: str, outside: Path) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    leftover = path.parent / f".{path.name}.abcd1234.tmp"  # named as a killed write's
    if hazard == "stale":
        path.write_text("stale\n")
    elif hazard == "link_file":
        path.symlink_to(outside / "victim.txt")
    elif hazard == "link_dir":
        path.symlink_to(outside / "dir", target_is_directory=True)
    elif hazard == "dev_zero":
        path.symlink_to("/dev/zero")
    elif hazard == "fifo":
        os.mkfifo(path)
    elif hazard == "link_fifo":
        path.symlink_to(outside / "fifo")
    elif hazard == "dangling":
        path.symlink_to(outside / "created_by_attngen")
    elif hazard == "loop":
        path.symlink_to(path.name)
    elif hazard == "folder":
        path.mkdir()
        (path / "keep.txt").write_text("keep\n")
    elif hazard == "hardlink":
        os.link(outside / "hard.txt", path)
    elif hazard == "leftover_link":
        leftover.symlink_to(outside / "victim.txt")
    elif hazard == "leftover_hardlink":
        os.link(outside / "hard.txt", leftover)


def _snapshot(folder: Path) -> dict:
    """Every entry under `folder`: its type, mode, bytes (regular files) or link target."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st_ = os.lstat(path)
            if stat.S_ISREG(st_.st_mode):
                what = path.read_bytes()
            elif stat.S_ISLNK(st_.st_mode):
                what = os.readlink(path)
            else:
                what = None
            found[path.relative_to(folder).as_posix()] = (stat.S_IFMT(st_.st_mode),
                                                         stat.S_IMODE(st_.st_mode), what)
    return found


@dataclass
class OutputTree:
    command: str
    hazards: dict[str, str]  # output path -> what is planted there
    out_is_link: bool = False  # -o itself a link to a folder (allowed)


@st.composite
def output_trees(draw) -> OutputTree:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    paths = draw(st.lists(st.sampled_from(COMMANDS[command][1]), min_size=1, max_size=3,
                          unique=True))
    hazards = {}
    for rel in paths:  # of "img" and a path below it, the first drawn gets a hazard
        if not any(rel.startswith(p + "/") or p.startswith(rel + "/") for p in hazards):
            hazards[rel] = draw(st.sampled_from(HAZARDS))
    return OutputTree(command, hazards, draw(st.booleans()))


# Issue 18 item 9: docs/img linked elsewhere; a FIFO and a /dev/zero link at output paths.
IMG_ELSEWHERE = OutputTree("docs", {"img": "link_dir"})
SPECIAL_FILES = OutputTree("build", {"se.py": "fifo", "se.svg": "dev_zero"})
# Found by this fuzzer: a link to itself at an image path of the docs (`docs` resolved the
# image paths for their links before the output refusals ran: a RuntimeError traceback).
IMG_LOOP = OutputTree("docs", {"img/se.svg": "loop"})
# Found by a random-seed run: `diagram -o se.svg` where se.svg links to a folder (exit 2).
DIAGRAM_INTO_LINKED_FOLDER = OutputTree("diagram", {"se.svg": "link_dir"})


def _plant_tree(root: Path, case: OutputTree) -> tuple[list, dict]:
    """The case's folders under `root`; the command to run and a snapshot of the folders."""
    specs = root / "specs"
    specs.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "specs" / "se.yaml", specs)
    outside = _outside(root)
    out = root / "out"
    if case.out_is_link:
        (root / "real").mkdir()
        out.symlink_to(root / "real", target_is_directory=True)
    else:
        out.mkdir()
    for rel, hazard in case.hazards.items():
        _plant(out, rel, hazard, outside)
    argv, _ = COMMANDS[case.command]
    target = out / "se.svg" if case.command == "diagram" else out
    before = {name: _snapshot(root / name) for name in ("outside", "specs", "out")}
    before["entries"] = sorted(p.name for p in root.iterdir())
    return [*argv, specs / "se.yaml", "-o", target], before


def _assert_stayed_inside(root: Path, case: OutputTree, res: Result, before: dict) -> None:
    out = root / "out"
    assert _snapshot(root / "outside") == before["outside"], f"{case}: a byte outside -o changed"
    assert _snapshot(root / "specs") == before["specs"], f"{case}: the spec changed"
    assert sorted(p.name for p in root.iterdir()) == before["entries"], f"{case}: new files"
    # `diagram -o PATH` where PATH is a folder, or a link to one (found by a random-seed
    # run): a bad argument, so a usage error (exit 2)
    usage = case.command == "diagram" and case.hazards.get("se.svg") in ("folder", "link_dir")
    if res.code != 0:
        if usage:
            assert res.code == 2 and res.err.startswith("attngen: error: -o ") \
                and res.err.count("\n") == 1, f"{case}: {res.err}"
        elif not ("--check" in case.command and STALE.fullmatch(res.err)):
            assert_located_errors(res, located=False)
        after = {k: v for k, v in _snapshot(out).items() if not k.endswith(".tmp")}
        assert after == {k: v for k, v in before["out"].items() if not k.endswith(".tmp")}, \
            f"{case}: a failed command changed the output folder"
    elif "--check" not in case.command:
        for rel in COMMANDS[case.command][1]:
            if rel != "img":
                assert stat.S_ISREG(os.lstat(out / rel).st_mode), f"{case}: {rel} not a file"


def _assert_trees_stay_inside(root: Path, cases: list[OutputTree]) -> None:
    """Run every case's command in one child process (one interpreter start), then judge."""
    shutil.rmtree(root, ignore_errors=True)
    planted = [_plant_tree(root / str(i), case) for i, case in enumerate(cases)]
    try:
        ran = run_limited([argv for argv, _ in planted], root, timeout=TIME_LIMIT,
                          memory_mib=MEMORY_MIB)
    finally:  # a hang or a crash must not hide a byte written outside
        for i, (case, (_, before)) in enumerate(zip(cases, planted, strict=True)):
            assert _snapshot(root / str(i) / "outside") == before["outside"], \
                f"{case}: a byte outside -o changed"
    for i, (case, res, (_, before)) in enumerate(zip(cases, ran.results, planted,
                                                      strict=True)):
        _assert_stayed_inside(root / str(i), case, res, before)


needs_svg = pytest.mark.skipif(render.backend_for("svg") is None, reason="no SVG renderer")


BATCH = 5  # cases per child process


def _fuzz_output_trees(tmp_path_factory, *, slow: bool) -> None:
    root = tmp_path_factory.mktemp("tree") / "case"

    @_settings(0.01, slow=slow, shrink=False)
    @example([IMG_ELSEWHERE, SPECIAL_FILES, IMG_LOOP, DIAGRAM_INTO_LINKED_FOLDER])
    @given(cases=st.lists(output_trees(), min_size=BATCH, max_size=BATCH))
    def check(cases):
        _assert_trees_stay_inside(root, cases)

    check()


@needs_svg
def test_output_tree_hazards(tmp_path_factory):
    _fuzz_output_trees(tmp_path_factory, slow=False)


@needs_svg
@pytest.mark.slow
def test_long_output_tree_hazards(tmp_path_factory):
    _fuzz_output_trees(tmp_path_factory, slow=True)


@needs_svg
@pytest.mark.parametrize("rel", ["img", "img/se.svg", "img/palette.svg"])
@pytest.mark.parametrize("check", [False, True], ids=["docs", "docs --check"])
def test_docs_refuse_a_symlink_loop_at_an_output_path(tmp_path, rel, check):
    out = tmp_path / "docs"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).symlink_to(Path(rel).name)
    res = run_cli(["docs", *(["--check"] if check else []), REPO_ROOT / "specs" / "se.yaml",
                   "-o", out])
    assert_located_errors(res, located=False)  # a refusal that names the link
    assert "error[E500]" in res.err and str(out / rel) in res.err, res.err
    assert (out / rel).is_symlink() and sorted(p.name for p in out.iterdir()) == ["img"]


# -- terminal escapes and Markdown/HTML in every text field --------------------------------
FRAGMENTS = [
    # terminal: screen clear, clipboard write, overprinting, backspace, DEL, C1 CSI, bidi
    "\x1b[2J", "\x1b]52;c;cHduZWQ=\x07", "\rall checks passed", "\x08", "\x7f", "\x9b31m",
    "\u202e", "\u2066", "\ufffe", "\x00", "\t", "\n", "\u2028", "\x85", "\x1b[K", "\x07",
    # Markdown and HTML
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "[x](javascript:alert(1))",
    "![i](javascript:i)", "|", "`", "``", "*", "_", "\\", "&lt;", "&", "<", ">", "# ", "<!--",
    "<https://evil.example>", "[", "]", "(", ")",
    # text
    "a", " ", "Attention", "😀", "e\u0301", "{{ x }}", "{% raw %}", "%s", "'", '"',
]


def _text(draw, max_size: int = 6) -> str:
    return "".join(draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=max_size)))


def _file_name(text: str) -> str:
    """`text` as one path component: no slash or NUL, at most 200 bytes in UTF-8."""
    name = text.replace("/", "_").replace("\x00", "_").strip(".") or "_"
    return name.encode("utf-8")[:200].decode("utf-8", "ignore") or "_"


@dataclass
class HostileText:
    fields: dict[str, str]  # field -> text
    folder: str
    main_file: str
    sub_file: str

    def files(self) -> dict[str, str]:
        f = self.fields
        sub = {"name": "Inner", "title": f["sub_title"], "doc": f["sub_doc"],
               "inputs": {"x": [B_, C_]}, "graph": {"y": {"op": "Sigmoid", "in": "x"}},
               "outputs": "y"}
        spec = {"name": "Hostile", "title": f["title"], "paper": f["paper"], "doc": f["doc"],
                "params": {"channel": {"default": 8, "doc": f["param_doc"]},
                           "mode": {"default": f["choice"], "choices": [f["choice"], "plain"],
                                    "doc": f["param_doc"]}},
                "let": {"tag": repr(f["literal"])},
                "inputs": {"x": {"shape": [B_, "channel"], "doc": f["input_doc"]}},
                "graph": {"fc": {"op": "Linear", "args": ["channel", "channel"], "in": "x",
                                 "doc": f["node_doc"]},
                          "inner": {"use": self.sub_file, "in": "fc", "doc": f["node_doc"]},
                          "gate": {"op": "Sigmoid", "in": "inner",
                                   "when": f"mode != {f['literal']!r}"},
                          "out": {"op": "ReLU", "in": "inner"}},
                "outputs": ["out", {"name": "gate", "when": f"mode != {f['literal']!r}"}]}
        return {f"{self.folder}/{self.sub_file}": _dump(sub),
                f"{self.folder}/{self.main_file}": _dump(spec)}


B_, C_ = "B", "C"
TEXT_FIELDS = ["title", "paper", "doc", "param_doc", "choice", "input_doc", "node_doc",
               "sub_title", "sub_doc"]


@st.composite
def hostile_texts(draw) -> HostileText:
    fields = {name: _text(draw) for name in TEXT_FIELDS}
    # a string literal inside expressions: one line, at most 64 characters
    fields["literal"] = _text(draw, 3).replace("\n", " ").replace("\r", " ")[:60]
    folder, main, sub = (_file_name(_text(draw, 3)) for _ in range(3))
    sub = sub + "_s" if sub == main else sub
    return HostileText(fields, folder, main + ".yaml", sub + ".yaml")


def _assert_text_stays_text(root: Path, case: HostileText) -> bool:
    """Run every command on the case; whether the docs were written (the pages checked)."""
    shutil.rmtree(root, ignore_errors=True)
    _write(root, case.files())
    folder = root / case.folder
    spec, sub = folder / case.main_file, folder / case.sub_file
    out, docs = root / "out\x1b[2J", root / "docs\x07"
    runs = {
        "check": ["check", spec, sub],
        "show": ["show", spec],
        "params": ["params", spec, "--all"],
        "diff": ["diff", spec, sub],
        "build": ["build", "--no-svg", spec, sub, "-o", out],
        "build --check": ["build", "--no-svg", "--check", spec, sub, "-o", out],
        "diagram": ["diagram", spec, "-o", out / "d.dot"],
        "new": ["new", "v\x1b[2J", "--from", spec, "-o", out],
        "verify": ["verify", "-n", "1", "--no-export", spec],
        "docs": ["docs", folder, "-o", docs],
        "docs --check": ["docs", "--check", folder, "-o", docs],
    }
    results = {}
    for what, argv in runs.items():
        res = results[what] = run_cli(argv)
        assert res.code in (0, 1) and "Traceback" not in res.err, (what, res.code, res.err)
        assert_shown_not_sent(res.out + res.err, what)
    if results["build"].code == 0:
        for dot in out.glob("*.dot"):  # the renderer takes every .dot attngen writes
            render.render(dot.read_text(encoding="utf-8"), "svg")
    if results["docs"].code == 0:
        for page in docs.rglob("*.md"):
            prose = outside_code(page.read_text(encoding="utf-8"))
            assert "<" not in prose, (page.name, [ln for ln in prose.splitlines() if "<" in ln])
            for target in link_targets(page.read_text(encoding="utf-8")):
                assert re.fullmatch(r"[A-Za-z0-9._~%/-]+", target), (page.name, target)
    return results["docs"].code == 0


# The payloads of tests/test_hostile_text.py, all at once, in every field and file name.
EVERYTHING = HostileText(
    {name: "".join(FRAGMENTS) for name in TEXT_FIELDS}
    | {"choice": "".join(FRAGMENTS)[:200], "literal": "\x1b[2J\x07\x9b31m<b>|"},
    _file_name("f\x1b[2J\x07 <b> [x](y)|"), _file_name("javascript:alert(1)\r") + ".yaml",
    _file_name("s) [e](javascript:alert(1)) <img src=y onerror=z>|q") + ".yaml")


def _fuzz_hostile_text(tmp_path_factory, *, slow: bool) -> None:
    root = tmp_path_factory.mktemp("text") / "case"
    built = []

    @_settings(0.01, slow=slow)
    @example(EVERYTHING)
    @given(case=hostile_texts())
    def check(case):
        built.append(_assert_text_stays_text(root, case))

    check()
    assert any(built), "no case wrote docs: the pages were never checked"


@needs_svg
def test_hostile_text_in_every_field(tmp_path_factory):
    _fuzz_hostile_text(tmp_path_factory, slow=False)


@needs_svg
@pytest.mark.slow
def test_long_hostile_text_in_every_field(tmp_path_factory):
    _fuzz_hostile_text(tmp_path_factory, slow=True)
