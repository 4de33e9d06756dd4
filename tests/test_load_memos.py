"""The load phase's per-process memos (the YAML tags of scalars, the names a dim binds, parsed
expressions) give what the unmemoized code gives, exact marks included, and never an old
parse of a file edited within one process (`attngen serve`, `build --watch`)."""

from __future__ import annotations

from pathlib import Path

import attngen
import pytest
import yaml
from attngen.errors import SpecError
from attngen.loader import Loader, load
from attngen.resources import specs_dir
from attngen.yamlload import LList, LMap, LValue, load_text, plain

LIBRARY = sorted(specs_dir().glob("*.yaml")) + sorted((specs_dir() / "variants").glob("*.yaml"))


class _PureLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader with yamlload's one added float form: no memo."""


_PureLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    __import__("attngen.yamlload", fromlist=["_FLOAT_12"])._FLOAT_12,
    list("-+.0123456789"),
)


def _walk(value: LValue, node: yaml.Node, seen: list[int]) -> None:
    """Every value's and key's location is its node's start mark (1-based)."""
    assert (value.loc.line, value.loc.col) == (node.start_mark.line + 1,
                                               node.start_mark.column + 1)
    seen[0] += 1
    if isinstance(value, LMap):
        assert isinstance(node, yaml.MappingNode)
        for (knode, vnode), key in zip(node.value, value, strict=True):
            assert (value.key_locs[key].line, value.key_locs[key].col) == (
                knode.start_mark.line + 1, knode.start_mark.column + 1)
            assert key.loc == value.key_locs[key]
            _walk(value[key], vnode, seen)
    elif isinstance(value, LList):
        assert isinstance(node, yaml.SequenceNode)
        for item, inode in zip(value, node.value, strict=True):
            _walk(item, inode, seen)


TRICKY = """\
a: {one: 1, "two": yes, three: 2.5, four: null}
'quoted key': "two
  lines"
b:
  - [1, '1', "1", 0x1f, 1e-4, -.5, .inf, ~]
  - >-
    folded
    text
  -   - nested
      - {k: [x, {y: z}]}
c: |
  literal
"""


@pytest.mark.parametrize("text", [p.read_text() for p in LIBRARY] + [TRICKY],
                         ids=[p.stem for p in LIBRARY] + ["tricky"])
def test_values_and_marks_are_pure_pyyamls(text):
    for _ in range(2):  # cold, then with every memo warm
        loaded = load_text(text, "t.yaml")
        assert plain(loaded) == yaml.load(text, Loader=_PureLoader)  # noqa: S506 (safe)
        seen = [0]
        _walk(loaded, yaml.compose(text, Loader=_PureLoader), seen)
        assert seen[0] > 5


def test_a_tag_depends_on_quoting_not_only_on_the_text():
    text = "a: '1'\nb: 1\nc: 'true'\nd: true\ne: \"1e-4\"\nf: 1e-4\ng: ''\nh:\n"
    for _ in range(2):
        values = plain(load_text(text, "t.yaml"))
        assert values == {"a": "1", "b": 1, "c": "true", "d": True, "e": "1e-4", "f": 1e-4,
                          "g": "", "h": None}
        assert [type(v) for v in values.values()] == [str, int, str, bool, str, float, str,
                                                      type(None)]


def test_an_error_location_is_the_new_files_after_an_edit(tmp_path):
    spec = tmp_path / "m.yaml"
    good = ("name: M\ninputs:\n  x: [B, C]\ngraph:\n  y: {op: ReLU, in: x}\n"
            "outputs: y\n")
    spec.write_text(good)
    assert load(spec, Loader()).nodes["y"].inputs[0].name == "x"
    # the same text moved two lines down, and a mistake on the moved line
    spec.write_text("\n\n" + good.replace("in: x", "in: z"))
    with pytest.raises(SpecError) as caught:
        attngen.load(spec)
    [d] = caught.value.diagnostics
    assert (d.code, d.loc.line, d.loc.col) == ("E300", 7, 21)
    spec.write_text(good.replace("ReLU", "Sigmoid"))
    assert load(spec, Loader()).nodes["y"].form.op == "Sigmoid"


def test_a_sub_spec_edited_between_builds_is_read_again(tmp_path):
    sub = tmp_path / "block.yaml"
    top = tmp_path / "top.yaml"
    sub_text = ("name: Block\nparams:\n  c: {default: 8}\ninputs:\n  x: [B, c]\n"
                "graph:\n  y: {op: ReLU, in: x}\noutputs: y\n")
    sub.write_text(sub_text)
    top.write_text("name: Top\ninputs:\n  x: [B, 8]\ngraph:\n  b: {use: block, in: x}\n"
                   "outputs: b\n")
    first = load(top, Loader())
    assert list(first.nodes["b"].form.spec.params) == ["c"]
    sub.write_text(sub_text.replace("c: {default: 8}", "c: {default: 8}\n  d: {default: 2}"))
    second = load(top, Loader())  # a new build: a new Loader, the file read again
    assert list(second.nodes["b"].form.spec.params) == ["c", "d"]


def test_a_dim_named_in_a_layer_argument_is_reported_every_time(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text("name: M\ninputs:\n  x: [B, C, H]\ngraph:\n"
                    "  y: {op: Linear, args: [H, 4], in: x, shape: [B, C, 4]}\noutputs: y\n")
    messages = []
    for _ in range(2):  # the second time with the dims' names memoized
        with pytest.raises(SpecError) as caught:
            attngen.load(spec)
        messages.append([(str(d.loc), d.code, d.message) for d in caught.value.diagnostics])
    assert messages[0] == messages[1]
    assert messages[0][0][1] == "E202" and "names input dim 'H'" in messages[0][0][2]


def test_the_library_loads_alike_twice_in_one_process():
    def summary(path: Path) -> list[tuple[str, str, list[str]]]:
        spec = load(path, Loader())
        return [(n.name, str(n.loc), [e.text for s in n.annotations() for e in s])
                for n in spec.nodes.values()]

    for path in LIBRARY:
        assert summary(path) == summary(path)


def test_an_expression_is_evaluated_with_the_values_it_is_given():
    from attngen.errors import Loc
    from attngen.expr import parse

    here, there = Loc("a.yaml", 3, 5), Loc("b.yaml", 7, 9)
    expr = parse("log2 * 2 + n", here)  # a param may be named like a function
    assert expr.value({"log2": 3, "n": 1}) == 7
    assert expr.value({"log2": 5, "n": 1}) == 11
    assert [str(expr.sympy({"log2": v, "n": 1})) for v in (3, 5)] == ["7", "11"]
    # 1, True and 1.0 are told apart: the result keeps the type it was given
    same = parse("x", here)
    assert [type(same.value({"x": v})) for v in (1, True, 1.0)] == [int, bool, float]
    # a list from env is the caller's own object, never one shared from an earlier call
    sizes = [1, 2]
    assert parse("sizes", here).value({"sizes": sizes}) is sizes
    # an error is located at the expression that fails, however often the text was seen
    for loc in (here, there, here):
        with pytest.raises(SpecError) as caught:
            parse("n // d", loc).value({"n": 4, "d": 0})
        [d] = caught.value.diagnostics
        assert d.loc == loc.shifted(0) and "division by zero" in d.message
    assert parse("n // d", there).value({"n": 4, "d": 2}) == 2


def test_a_long_line_is_laid_out_for_its_indent_each_time():
    from attngen.layout import WIDTH, statement

    line = "x = torch.cat([" + ", ".join(f"value_{i}" for i in range(8)) + "], dim=1)"
    for _ in range(2):  # the second time from the memo
        narrow, wide = statement(line, 40), statement(line, 0)
        assert wide == [line] and len(narrow) > 3  # fits at column 0, not at 40
        assert all(len(part) <= WIDTH for part in narrow)
        narrow.append("changed by a caller")
    assert statement(line, 40) == narrow[:-1]
