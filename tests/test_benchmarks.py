"""Smoke tests for benchmarks/: each script's smallest mode runs and prints its table.

No timing is checked here (that would be flaky); the numbers live in the scripts' output.
The smoke runs are marked `slow` (`pytest -m slow`, which .ci/run runs): they take seconds
(subprocess builds, valgrind) and test the scripts, not attngen. The checks of what the
scripts measure (a synthetic spec's size, the list of modules) stay in the default run.
"""
import importlib.util
import os
import shutil
import sys

import pytest
from conftest import REPO_ROOT


def _script(name):
    path = REPO_ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]


@pytest.mark.slow
def test_bench_scale_quick(capsys):
    bench = _script("bench_scale")
    assert bench.main(["--quick"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["10", "100"]


def test_bench_scale_spec_has_the_asked_node_count(tmp_path):
    from attngen.checker import check
    from attngen.loader import Loader, load

    bench = _script("bench_scale")
    path = tmp_path / "s.yaml"
    path.write_text(bench.synthetic_spec(37))
    spec = load(path, Loader())
    assert len(spec.nodes) == 37
    check(spec, {})  # a valid spec: the benchmark times real work, not an early error


def test_bench_modules_covers_every_equivalence_class():
    bench = _script("bench_modules")
    import equiv_cases  # noqa: F401  (bench_modules put tests/ on the path too)
    from test_equivalence import CASES

    rows = bench.modules()
    assert [(r[0], r[1]) for r in rows] == list(dict.fromkeys((c[0], c[1]) for c in CASES))


@pytest.mark.slow
def test_bench_modules_quick_one_module(capsys):
    bench = _script("bench_modules")
    assert bench.main(["--quick", "--only", "se.SEAttention"]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) == 2 and rows[1].startswith("| se.SEAttention | 8x64x28x28 |")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bench_build_quick(capsys):
    bench = _script("bench_build")
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "torch imported: no" in out
    assert "| in-process: check |" in out
    assert "| attngen's imports alone" in out


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
def test_bench_build_counts_instructions():
    bench = _script("bench_build")
    env = dict(os.environ)
    bare = bench.instructions([sys.executable, "-c", "pass"], env)
    more = bench.instructions([sys.executable, "-c", "import json, decimal"], env)
    assert 1e6 < bare < more
