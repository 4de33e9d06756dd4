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
    assert len(rows) == 2 and rows[1].startswith("| se.SEAttention | 8x256x28x28 |")
    cells = [c.strip() for c in rows[1].split("|")[1:-1]]
    assert len(cells) == 8  # times, ratios with their IQR, peak memory both ways
    assert all(" / " in cells[i] for i in (2, 4, 6, 7)) and "[" in cells[3]


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


def test_bench_modules_sizes_name_real_classes_and_targets():
    bench = _script("bench_modules")
    rows = {(r[0], r[1]): r for r in bench.modules()}
    assert set(bench.SIZES) <= set(rows)  # no size for a class that is not benchmarked
    assert all(not r[-1] for r in rows.values())  # every module at a chosen size
    assert set(rows) >= bench.ATTENTION
    assert bench.targets("sdpa", "ScaledDotProductAttention", 1.03) == (0.80, 0.90)
    assert bench.targets("se", "SEAttention", 1.03) == (1.03, 1.03)


def test_bench_modules_peak_memory_counts_what_a_call_holds():
    import torch

    bench = _script("bench_modules")
    x = torch.randn(256, 256)

    def two():  # two 256 KiB tensors alive at once
        a = x * 2
        b = x * 3
        return (a + b).sum()

    def one():
        return (x * 2).sum()

    assert bench.peak_bytes(two) >= 3 * 256 * 1024 > bench.peak_bytes(one) >= 256 * 1024


def test_bench_build_grown_library_is_real_distinct_specs(tmp_path):
    bench = _script("bench_build")
    grown = bench.GROWN
    assert bench.grown_library(tmp_path / "lib", grown) == grown
    from attngen.build import collect_specs

    paths = collect_specs([str(tmp_path / "lib")])
    assert len(paths) == grown
    names = [next(line for line in p.read_text().splitlines() if line.startswith("name:"))
             for p in paths]
    assert len(set(names)) >= grown - 3  # the library's own shared names (sub-spec classes)
    assert {p.name for p in paths} >= {"eca.yaml", "se_max.yaml"}
    assert any(p.name.startswith("copy1_") for p in paths)  # the library alone is fewer
