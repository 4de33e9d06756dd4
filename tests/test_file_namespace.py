"""One namespace per generated file (names.check_file_names).

A generated file defines a class for its spec and for every sub-spec at any depth, and
their aliases. Two spec files with one class name used to give one class for both nodes,
and a param, alias or main class named like a sub-spec's class built fine and failed on
instantiation (RecursionError, 'int' object is not callable): silently wrong modules.
Each collision is now E106 at the place that makes it, and following the hint builds a
module that computes what the specs say.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import attngen
import pytest
from attngen.errors import SpecError
from attngen.loader import Loader, load
from fuzzing import assert_located_errors, run_cli

GATE = """\
    name: {name}
    inputs:
      x: [B, C]
    graph:
      y: {{op: {op}, in: x}}
    outputs: y
    """


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def gate(path: Path, name: str, op: str) -> Path:
    return write(path, GATE.format(name=name, op=op))


def top(tmp_path: Path, graph: str, extra: str = "", name: str = "Top") -> Path:
    """top.yaml: `graph` lists the nodes (any common indentation is removed)."""
    nodes = textwrap.indent(textwrap.dedent(graph), "  ")
    return write(tmp_path / "top.yaml", f"name: {name}\n{extra}inputs:\n  x: [B, C]\n"
                 f"graph:\n{nodes}outputs: q\n")


def errors_of(tmp_path: Path, spec: Path) -> list[str]:
    res = run_cli(["build", "--no-svg", spec, "-o", tmp_path / "out"])
    assert_located_errors(res)
    assert not (tmp_path / "out").exists(), "a failing build wrote files"
    return res.err.splitlines()


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files shown as relative paths


@pytest.fixture
def two_blocks(tmp_path):
    gate(tmp_path / "a" / "blk.yaml", "Block", "ReLU")
    gate(tmp_path / "b" / "blk.yaml", "Block", "Sigmoid")
    return tmp_path


# -- item 1: two files, one class name -------------------------------------------------------
def test_two_files_with_one_class_name_are_refused_at_the_second_use(two_blocks):
    spec = top(two_blocks, "  p: {use: a/blk, in: x}\n  q: {use: b/blk, in: p}\n")
    lines = errors_of(two_blocks, spec)
    assert lines[0].startswith("top.yaml:6:12: error[E106]: b/blk.yaml defines class 'Block'")
    assert "class 'Block' of a/blk.yaml" in lines[0]
    assert "extends: b/blk.yaml" in lines[1]  # the hint


def test_the_hint_builds_a_module_with_both_classes(two_blocks):
    """A variant of the second file with its own name, as the hint says: two classes, and
    the module computes sigmoid(relu(x)) as the specs say."""
    torch = pytest.importorskip("torch")
    write(two_blocks / "block2.yaml", "extends: b/blk.yaml\nname: Block2\n")
    spec = top(two_blocks, "  p: {use: a/blk, in: x}\n  q: {use: block2, in: p}\n")
    Top = attngen.compile(spec)
    x = torch.randn(3, 5)
    assert torch.equal(Top()(x), torch.sigmoid(torch.relu(x)))


def test_a_collision_deep_in_the_tree_is_found(two_blocks):
    gate(two_blocks / "leaf.yaml", "Leaf", "Tanh")
    write(two_blocks / "mid.yaml", """\
        name: Mid
        inputs: {x: [B, C]}
        graph:
          l: {use: leaf, in: x}
          m: {use: b/blk, in: l}
        outputs: m
        """)
    spec = top(two_blocks, "  p: {use: mid, in: x}\n  q: {use: a/blk, in: p}\n")
    lines = errors_of(two_blocks, spec)
    assert lines[0].startswith("top.yaml:6:12: error[E106]: a/blk.yaml defines class 'Block'")
    assert "class 'Block' of b/blk.yaml" in lines[0]


def test_one_file_used_twice_is_one_class(two_blocks):
    torch = pytest.importorskip("torch")
    spec = top(two_blocks, "  p: {use: a/blk, in: x}\n  q: {use: ./a/blk.yaml, in: p}\n")
    source = attngen.load(spec).source()
    assert source.count("class Block(") == 1
    x = torch.randn(2, 3)
    assert torch.equal(attngen.compile(spec)()(x), torch.relu(x))


def test_a_seq_layer_and_a_case_are_part_of_the_tree(two_blocks):
    spec = top(two_blocks, """\
          p: {seq: [{use: a/blk}], in: x}
          q:
            cases:
              - {when: 'flag', use: b/blk, in: p}
              - {when: 'not flag', op: Tanh, in: p}
        """, extra="params:\n  flag: true\n")
    lines = errors_of(two_blocks, spec)
    assert lines[0].startswith("top.yaml:10:29: error[E106]: b/blk.yaml defines class 'Block'")


# -- item 2: the main class, aliases and locals against sub-spec classes --------------------
def test_main_class_named_like_a_sub_spec_class(two_blocks):
    spec = top(two_blocks, "  q: {use: a/blk, in: x}\n", name="Block")
    lines = errors_of(two_blocks, spec)
    assert lines[0].startswith("top.yaml:5:12: error[E106]: a/blk.yaml defines class 'Block', "
                               "but the generated file already has class 'Block' of top.yaml")


@pytest.mark.parametrize("extra, graph, where, what", [
    ("params:\n  Block: 3\n", "  q: {use: a/blk, in: x}\n", "top.yaml:3:3:", "param 'Block'"),
    ("let:\n  Block: 3\n", "  q: {use: a/blk, in: x}\n", "top.yaml:3:3:", "let 'Block'"),
    ("params:\n  ks: [1, 2]\n",
     "  p: {each: Block in ks, use: a/blk, in: x}\n  q: {op: add, in: p}\n",
     "top.yaml:7:3:", "loop variable 'Block'"),
    ("", "  Block: {use: a/blk, in: x}\n  q: {op: Tanh, in: Block}\n", "top.yaml:5:3:",
     "node 'Block'"),
    ("aliases: [Block]\n", "  q: {use: a/blk, in: x}\n", "top.yaml:2:11:", "alias 'Block'"),
])
def test_a_name_of_the_spec_that_is_a_class_of_the_file(two_blocks, extra, graph, where, what):
    spec = top(two_blocks, graph, extra=extra)
    lines = errors_of(two_blocks, spec)
    assert lines[0].startswith(f"{where} error[E106]: {what}"), lines[0]
    assert "class 'Block' of a/blk.yaml" in lines[0]


def test_a_sub_spec_param_named_like_a_sibling_class(two_blocks):
    """The collision is in the sub-spec, but only the file of the top spec has both."""
    gate(two_blocks / "other.yaml", "Other", "Tanh")
    write(two_blocks / "sub.yaml", """\
        name: Sub
        params: {Other: 2}
        inputs: {x: [B, C]}
        graph: {y: {op: ReLU, in: x}}
        outputs: y
        """)
    assert run_cli(["check", two_blocks / "sub.yaml"]).code == 0
    spec = top(two_blocks, "  p: {use: sub, in: x}\n  q: {use: other, in: p}\n")
    lines = errors_of(two_blocks, spec)
    assert lines[0].startswith("sub.yaml:2:10: error[E106]: param 'Other' of Sub")
    assert "class 'Other' of other.yaml" in lines[0]


def test_two_aliases_of_one_name(tmp_path):
    write(tmp_path / "one.yaml", GATE.format(name="One", op="ReLU") + "aliases: [Shared]\n")
    write(tmp_path / "two.yaml", GATE.format(name="Two", op="Tanh") + "aliases: [Shared]\n")
    spec = top(tmp_path, "  p: {use: one, in: x}\n  q: {use: two, in: p}\n")
    lines = errors_of(tmp_path, spec)
    assert lines[0].startswith("two.yaml:7:11: error[E106]: alias 'Shared' of Two is already "
                               "alias 'Shared' of One")


def test_a_hand_made_spec_is_checked_as_a_file_would_be(two_blocks):
    # a Spec that passed the file's checks, then renamed by hand in Python
    spec = load(top(two_blocks, "  q: {use: a/blk, in: x}\n"), Loader(display_root=two_blocks))
    spec.name = "Block"
    with pytest.raises(SpecError) as exc:
        attngen.compile(spec)
    assert exc.value.diagnostics[0].code == "E106"


def test_class_name_m_is_reserved(tmp_path):
    """init_weights binds `m`: a class of that name is refused like the other reserved ones."""
    spec = write(tmp_path / "s.yaml", GATE.format(name="m", op="ReLU"))
    res = run_cli(["check", spec])
    assert_located_errors(res)
    assert "error[E104]: module name 'm' is reserved" in res.err


def test_docs_link_each_use_to_the_page_of_its_own_file(tmp_path):
    """Class names may repeat across the specs of one docs run (each file builds alone):
    a page links the sub-spec file it uses, not the last page of that class name."""
    gate(tmp_path / "a" / "ablk.yaml", "Block", "ReLU")
    gate(tmp_path / "b" / "bblk.yaml", "Block", "Sigmoid")
    for folder in "ab":
        write(tmp_path / folder / f"{folder}top.yaml", f"name: Top{folder}\ninputs:\n  x: [B, C]\n"
              f"graph:\n  q: {{use: {folder}blk, in: x}}\noutputs: q\n")
    paths = [tmp_path / f / f"{f}{s}.yaml" for f in "ab" for s in ("blk", "top")]
    assert run_cli(["docs", *paths, "-o", tmp_path / "pages"]).code == 0
    for folder in "ab":
        page = (tmp_path / "pages" / f"{folder}top.md").read_text(encoding="utf-8")
        assert f"[Block]({folder}blk.md)" in page
