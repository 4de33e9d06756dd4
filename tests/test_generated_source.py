"""Generated source is right by construction, and oracles check it.

- The locals the generated code binds itself (names.LAYER_VAR, ITEM_VAR) are reserved, so
  no spec name is shadowed by one: an input dim `item` used to be read as the `map:`
  comprehension's variable, silently wrong values.
- `fuzzing.scope_problems` is the oracle: no name the generated code binds hides another
  binding. It runs on every library spec here, on every file a fuzz case builds
  (fuzzing.check_generated), and on random specs made of colliding names below, whose
  modules must also compute what their specs say.
- `float("inf")` is written where it is made (expr.py), not by replacing text in the
  source: a string holding `float('inf')` used to become a SyntaxError, build exit 0.
- emit.render compiles every source before anyone sees it: source that does not compile
  is an internal error at the spec, and nothing is written.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import attngen
import pytest
from attngen import emit, names
from attngen.build import collect_specs
from attngen.errors import InternalError, Loc
from attngen.expr import parse
from attngen.pytext import py_string
from conftest import REPO_ROOT
from fuzzing import assert_located_errors, check_generated, run_cli, scope_problems
from hypothesis import given, settings
from hypothesis import strategies as st

LIBRARY = collect_specs([str(REPO_ROOT / "specs"), str(REPO_ROOT / "specs" / "variants")])


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- the oracle ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_library_sources_bind_nothing_twice(path):
    source = attngen.load(path).source()
    assert scope_problems(ast.parse(source)) == []


def test_the_oracle_finds_each_kind_of_collision():
    source = textwrap.dedent("""\
        from torch import nn
        class Block(nn.Module):
            def __init__(self, Block=3):
                super().__init__()
            def forward(self, x):
                B, item = x.shape
                return [item.view(B, item) for item in x]
        class Block(nn.Module):
            pass
        nn = Block
        """)
    problems = scope_problems(ast.parse(source))
    assert problems == [
        "module-level 'Block' bound at lines 2 and 8",
        "module-level 'nn' bound at lines 1 and 10",
        "Block.__init__ binds 'Block', a module-level name",
        "Block.forward: comprehension variable 'item' is also bound outside the comprehension",
    ]


# -- item 3: generated locals are reserved ---------------------------------------------------
MAPPED = """\
    name: Mapper
    params:
      ks: [1, 3]
    inputs:
      x: [B, 4, {dim}]
    graph:
      heads: {{each: ks, op: Conv1d, args: [4, 4, 1], in: x}}
      grown: {{op: view, map: true, in: heads, to: [B, 4 * {dim}]}}
      total: {{op: add, in: grown}}
    outputs: total
    """


@pytest.mark.parametrize("local", [names.ITEM_VAR, names.LAYER_VAR])
def test_a_dim_named_like_a_generated_local_is_refused(tmp_path, local):
    spec = write(tmp_path / "m.yaml", MAPPED.format(dim=local))
    res = run_cli(["build", "--no-svg", spec, "-o", tmp_path / "out"])
    assert_located_errors(res)
    assert res.err.startswith(f"m.yaml:5:13: error[E104]: dim name '{local}' is reserved")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["params:\n  item: 2\n", "let:\n  item: 2\nparams:\n"])
def test_any_spec_name_named_like_a_generated_local_is_refused(tmp_path, where):
    text = textwrap.dedent(MAPPED.format(dim="L")).replace("params:\n", where, 1)
    spec = write(tmp_path / "m.yaml", text)
    res = run_cli(["check", spec])
    assert_located_errors(res)
    assert "error[E104]" in res.err and "'item' is reserved" in res.err


def test_the_map_and_each_comprehensions_compute_the_spec(tmp_path):
    """With any other dim name, the module computes what the spec says."""
    torch = pytest.importorskip("torch")
    spec = write(tmp_path / "m.yaml", MAPPED.format(dim="L"))
    module = attngen.compile(spec)()
    x = torch.randn(2, 4, 5)
    expected = sum(conv(x).view(2, 20) for conv in module.heads)
    assert torch.allclose(module(x), expected)


# -- random specs made of colliding names ------------------------------------------------------
# names a spec may give its params, nodes and dims: class names, generated locals and
# reserved names (now and then), else plain names
HOSTILE = ["Block", "S0", "S1", "Top", "m", "item", "layer", "nn"]
PLAIN = [f"{c}{i}" for c in "abcdefgh" for i in range(4)]
OPS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


@st.composite
def colliding_specs(draw):
    """Two sub-specs (one op each) and a top spec that chains them, their class names
    often `Block` and their other names now and then hostile, so that classes, params,
    nodes, dims and generated locals collide."""
    used: set[str] = set()

    def name() -> str:  # distinct within a spec, unless hostile
        if draw(st.integers(0, 9)) == 3:
            return draw(st.sampled_from(HOSTILE))
        text = draw(st.sampled_from([n for n in PLAIN if n not in used]))
        used.add(text)
        return text

    subs = []
    for i in range(2):
        cls, node, dim, param = draw(st.sampled_from([f"S{i}", "Block"])), name(), name(), name()
        op = draw(st.sampled_from(sorted(OPS)))
        subs.append((f"s{i}", cls, op, f"""\
            name: {cls}
            params: {{{param}: 2}}
            inputs:
              x: [B, {dim}]
            graph:
              {node}: {{op: {op}, in: x}}
            outputs: {node}
            """))
    cls, first, second, param = draw(st.sampled_from(["Top", "Block"])), name(), name(), name()
    alias = f"aliases: [{draw(st.sampled_from(HOSTILE))}]\n" if draw(st.booleans()) else ""
    top = f"""\
        name: {cls}
        params: {{{param}: 2}}
        inputs:
          x: [B, C]
        graph:
          {first}: {{use: s0, in: x}}
          {second}: {{use: s1, in: {first}}}
        outputs: {second}
        """ + alias
    return subs, top


@settings(max_examples=60)
@given(case=colliding_specs())
def test_colliding_names_give_errors_or_a_module_that_computes_the_spec(case, tmp_path_factory):
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("collide")
    subs, top = case
    for stem, _, _, text in subs:
        write(folder / f"{stem}.yaml", text)
    spec = write(folder / "top.yaml", top)
    res = run_cli(["build", "--no-svg", spec, "-o", folder / "out"])
    if res.code != 0:
        assert_located_errors(res)
        return
    check_generated(folder / "out" / "top.py")  # scope_problems among its checks
    checked = attngen.load(spec)
    module = attngen.compile(checked)()
    x = torch.randn(3, 4)
    want = getattr(torch, OPS[subs[1][2]])(getattr(torch, OPS[subs[0][2]])(x))
    assert torch.equal(module(x), want), checked.source()


# -- item 15: float("inf") is made where it is written ------------------------------------------
INF = """\
    name: Inf
    params:
      mode: {type: str, default: a, choices: [a, "float('inf')", 'float("-inf")']}
    let:
      flag: "mode == \\"float('inf')\\" or inf > 0"
    requires:
      - "mode != 'float(\\"-inf\\")' or -inf < 0"
    inputs:
      x: [B, C]
    graph:
      y: {op: ReLU, in: x, when: "mode != \\"float('inf')\\""}
      z: {op: Sigmoid, in: x, when: "mode == \\"float('inf')\\""}
    outputs:
      - {name: y, when: "mode != \\"float('inf')\\""}
      - {name: z, when: "mode == \\"float('inf')\\""}
    """


def test_a_string_holding_float_inf_stays_a_string(tmp_path):
    torch = pytest.importorskip("torch")
    spec = write(tmp_path / "inf.yaml", INF)
    res = run_cli(["build", "--no-svg", spec, "-o", tmp_path / "out"])
    assert res.code == 0, res.err
    tree = check_generated(tmp_path / "out" / "inf.py")
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert {"float('inf')", 'float("-inf")', "inf"} <= strings
    Inf = attngen.compile(spec)
    x = torch.randn(2, 3)
    assert torch.equal(Inf()(x), torch.relu(x))
    assert torch.equal(Inf(mode="float('inf')")(x), torch.sigmoid(x))
    assert Inf(mode="float('inf')").flag is True and Inf().flag is True


@pytest.mark.parametrize("text, source", [
    ("inf", 'float("inf")'), ("-inf", 'float("-inf")'), ("- inf", 'float("-inf")'),
    ("(-inf) ** 2", 'float("-inf") ** 2'), ("-inf ** 2", '-float("inf") ** 2'),
    ("max(inf, -inf)", 'max(float("inf"), float("-inf"))'),
    ("x if c else -inf", 'x if c else float("-inf")'),
    ("s == \"float('inf')\"", "s == \"float('inf')\""),
])
def test_inf_is_written_as_a_call_and_keeps_its_meaning(text, source):
    assert parse(text, Loc("f")).python() == source


# -- the compile oracle --------------------------------------------------------------------------
def test_source_that_does_not_compile_is_an_internal_error_and_not_written(tmp_path,
                                                                          monkeypatch):
    spec = write(tmp_path / "g.yaml", """\
        name: Gate
        inputs:
          x: [B, C]
        graph:
          y: {op: Sigmoid, in: x}
        outputs: y
        """)
    real = emit.ClassEmitter.forward_lines
    monkeypatch.setattr(emit.ClassEmitter, "forward_lines",
                        lambda self, namer: ["y = (", *real(self, namer)])
    res = run_cli(["build", "--no-svg", spec, "-o", tmp_path / "out"])
    assert res.code == 70  # a bug in attngen (sysexits' EX_SOFTWARE), not 1: errors in specs
    assert res.err.startswith("attngen: g.yaml:1:1: internal error: the generated source does "
                              "not compile: '(' was never closed (<generated from g.yaml>, "
                              "line ")
    assert "a bug in attngen" in res.err and "Traceback" not in res.err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InternalError):  # the API renders through the same oracle
        attngen.compile(spec)


def test_messages_hold_the_spec_text_exactly(tmp_path):
    """The constructor's error messages are string literals made character by character:
    JSON's escapes made an emoji two lone surrogates, which cannot even be printed."""
    pytest.importorskip("torch")
    spec = write(tmp_path / "c.yaml", """\
        name: Choice
        params:
          mode: {type: str, default: a, choices: [a, "e\U0001F600", "b{x}", "c'\\"\\\\"]}
          tag: a
          n: 4
        requires:
          - "tag != 'e\U0001F600' or n > 8"
        inputs:
          x: [B, C]
        graph:
          y: {op: ReLU, in: x}
        outputs: y
        """)
    Choice = attngen.compile(spec)
    with pytest.raises(ValueError) as exc:
        Choice(mode="zz")
    assert str(exc.value) == ("Choice: mode must be one of 'a', 'e\U0001F600', 'b{x}', "
                              "'c\\'\"\\\\', got 'zz'")
    with pytest.raises(ValueError) as exc:
        Choice(tag="e\U0001F600")
    assert str(exc.value) == "Choice: requires tag != 'e\U0001F600' or n > 8"
    assert py_string("e\U0001F600\t\"\\\u202e\ud800") == \
        '"e\U0001F600\\t\\"\\\\\\u202e\\ud800"'
