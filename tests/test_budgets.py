"""Budgets of the whole build: tiny inputs must not ask for unbounded work.

Each file is capped (size, nesting, expression length, `**` at most 8, `each` at most
64), but `use:`, `each` and substitution multiply. Each case here used to take gigabytes,
minutes or a RecursionError; now it is a located E107 naming the budget. Every attack
runs in a subprocess with a memory limit and a timeout far above what the refusal takes:
the timeout only keeps a regression from hanging the suite.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from attngen import algebra, budget, diagram, loader
from fuzzing import DIAG, NOTE, SUMMARY

TIMEOUT = 120  # s; a refusal takes about a second
MEMORY = 2 << 30  # bytes of address space for the attngen process


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def attngen(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "attngen.cli", *args], cwd=folder,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False,
                          preexec_fn=_limit_memory)


def refused(proc: subprocess.CompletedProcess, where: str, budget: str) -> str:
    """Exit 1, located diagnostics only, the first at `where` naming `budget`."""
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    assert all(DIAG.match(x) or NOTE.match(x) or SUMMARY.match(x) for x in lines), proc.stderr
    assert lines[0].startswith(f"{where}: error[E107]: "), lines[0]
    assert f"(the build budget for {budget})" in lines[0], lines[0]
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def gate(folder: Path, stem: str, graph: str, params: str = "") -> Path:
    return write(folder / f"{stem}.yaml", f"name: {stem.capitalize()}\n{params}"
                 f"inputs:\n  x: [B, C]\ngraph:\n{graph}outputs: y\n")


# -- item 5: expression size ---------------------------------------------------------------
@pytest.mark.parametrize("dim", [
    "((B + C + H + W) ** 8 + 1) ** 8",  # 10**12 terms once expanded
    "(((((((((B ** 8) ** 8) ** 8) ** 8) ** 8) ** 8) ** 8) ** 8) ** 8) ** 8",  # B**(8**10)
])
def test_an_expression_bomb_is_refused_at_the_expression(tmp_path, dim):
    write(tmp_path / "bomb.yaml", f"""\
        name: Bomb
        inputs:
          x: [B, C, H, W]
        graph:
          y: {{op: Sigmoid, in: x, shape: [B, C, H, "{dim}"]}}
        outputs: y
        """)
    refused(attngen(tmp_path, "build", "--no-svg", "bomb.yaml"), "bomb.yaml:5:44",
            "expression size")
    assert not (tmp_path / "generated").exists()


def test_a_bomb_built_by_substitution_is_refused_where_it_grows(tmp_path):
    """Each line is small; the values substituted compound. (A layer's arguments read
    params and lets: the dims an annotation binds do not exist in __init__.)"""
    write(tmp_path / "grow.yaml", """\
        name: Grow
        params:
          C: {type: int, example: 3}
        let:
          D: (C + 1) ** 8
        inputs:
          x: [B, C]
        graph:
          a: {op: Linear, args: [C, D], in: x, shape: [B, D]}
          b: {op: Linear, args: [D, "(D + C) ** 8"], in: a, shape: [B, E]}
        outputs: b
        """)
    line = refused(attngen(tmp_path, "check", "grow.yaml"), "grow.yaml:10:29", "expression size")
    assert "'(D + C) ** 8' with the values of its names is too large" in line


def test_the_measure_bounds_what_expand_gives():
    sympy = pytest.importorskip("sympy")
    b, c, h = sympy.symbols("B C H", positive=True, integer=True)
    for e in [(b + c + 1) ** 5, (b + c) * (h + 1) ** 3 - b, b ** 8 * (c + 1) ** 2,
              (b - c) ** 4 + h, (b + c + h) ** 8]:
        terms, degree = algebra.size(e)
        expanded = sympy.expand(e)
        assert terms >= len(sympy.Add.make_args(expanded)), e
        assert degree >= sympy.Poly(expanded, b, c, h).total_degree(), e
    assert algebra.size((b + c + h) ** 8) == (45, 8)  # exact: 10 choose 8 monomials
    assert algebra.size(sympy.floor((b + c) ** 2 / h))[0] >= 3  # expanded inside the floor
    assert algebra.size(((b + c + h) ** 8 + 1) ** 8)[0] == algebra.MAX_TERMS + 1  # capped


# -- item 6: fan-out -------------------------------------------------------------------------
def test_each_times_use_fan_out_is_refused(tmp_path):
    """Four small files: 64 items, each using a spec of 64 items, each using one of 64."""
    items = "[" + ", ".join(str(i) for i in range(1, 65)) + "]"
    gate(tmp_path, "l3", "  y: {op: ReLU, in: x}\n", "params:\n  k: 1\n")
    for level in (2, 1, 0):
        gate(tmp_path, f"l{level}", f"  ys: {{each: j in ks, use: l{level + 1}, k: j + k, "
             "in: x}\n  y: {op: add, in: ys}\n", f"params:\n  k: 1\n  ks: {items}\n")
    refused(attngen(tmp_path, "check", "l0.yaml"), "l0.yaml:8:3", "nodes")
    assert attngen(tmp_path, "check", "-q", "l1.yaml").returncode == 0  # 64 x 64: within


def test_a_diagram_too_large_to_draw_out_is_drawn_collapsed(tmp_path):
    """Thirteen nested specs, each using the next twice: 8,192 copies of the last one."""
    for i in range(13):
        graph = f"  a: {{use: d{i + 1}, in: x}}\n  y: {{use: d{i + 1}, in: a}}\n" if i < 12 \
            else "  y: {op: ReLU, in: x}\n"
        gate(tmp_path, f"d{i}", graph)
    proc = attngen(tmp_path, "build", "--no-svg", "d0.yaml")
    assert proc.returncode == 0, proc.stderr
    dot = (tmp_path / "generated" / "d0.dot").read_text(encoding="utf-8")
    assert "sub-modules collapsed" in dot and len(dot) < 10_000
    boxes = re.findall(r'^  "([^"]+)" \[label=', dot, re.MULTILINE)
    assert boxes == ["in:x", "a", "y", "out:y"]


def test_a_diagram_too_large_even_collapsed_is_refused(tmp_path):
    n = diagram.MAX_BOXES + 1
    nodes = "".join(f"  n{i}: {{op: ReLU, in: {'x' if i == 0 else f'n{i - 1}'}}}\n"
                    for i in range(n))
    write(tmp_path / "wide.yaml", f"name: Wide\ninputs:\n  x: [B, C]\ngraph:\n{nodes}"
          f"outputs: n{n - 1}\n")
    assert attngen(tmp_path, "check", "-q", "wide.yaml").returncode == 0
    refused(attngen(tmp_path, "build", "--no-svg", "wide.yaml"), "wide.yaml:1:1",
            "diagram size")


# -- item 7: sub-spec depth ------------------------------------------------------------------
def chain(folder: Path, depth: int, last: str = "  y: {op: ReLU, in: x}\n") -> None:
    for i in range(depth):
        gate(folder, f"s{i}", f"  y: {{use: s{i + 1}, in: x}}\n" if i < depth - 1 else last)


@pytest.mark.parametrize("depth", [40, 200])
def test_a_deep_use_chain_is_refused_at_the_level_past_the_budget(tmp_path, depth):
    chain(tmp_path, depth)
    limit = loader.MAX_USE_DEPTH
    line = refused(attngen(tmp_path, "build", "--no-svg", "s0.yaml"),
                   f"s{limit}.yaml:5:12", "sub-spec depth")
    assert f"nested deeper than {limit} levels below s0.yaml" in line


def test_a_chain_at_the_budget_builds_with_each_class_once(tmp_path):
    chain(tmp_path, loader.MAX_USE_DEPTH + 1)
    proc = attngen(tmp_path, "build", "--no-svg", "s0.yaml")
    assert proc.returncode == 0, proc.stderr
    source = (tmp_path / "generated" / "s0.py").read_text(encoding="utf-8")
    classes = re.findall(r"^class (\w+)\(", source, re.MULTILINE)
    assert classes == [f"S{i}" for i in reversed(range(loader.MAX_USE_DEPTH + 1))]


def test_extends_links_and_use_levels_are_counted_apart(tmp_path):
    """A variant deep in a `use:` chain: its `extends` chain is short, whatever the depth."""
    chain(tmp_path, 12, last="  y: {use: v0, in: x}\n")
    for i in range(5):
        write(tmp_path / f"v{i}.yaml", f"extends: v{i + 1}\nname: V{i}\n")
    gate(tmp_path, "v5", "  y: {op: ReLU, in: x}\n")
    proc = attngen(tmp_path, "check", "-q", "s0.yaml")
    assert proc.returncode == 0, proc.stderr


def test_the_budgets_are_the_documented_ones():
    from conftest import REPO_ROOT

    limits = (REPO_ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    assert f"| {loader.MAX_USE_DEPTH} levels | E107 |" in limits
    assert f"| {algebra.MAX_TERMS:,} terms once multiplied out, degree {algebra.MAX_DEGREE} |" \
        in limits
    assert f"| {budget.MAX_NODES:,} | E107 |" in limits
    assert f"| {diagram.MAX_BOXES:,} | E107 |" in limits
