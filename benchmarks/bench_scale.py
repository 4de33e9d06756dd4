"""Validation time for synthetic specs of 100, 1,000 and 10,000 nodes.

Each spec is a chain of blocks of 10 nodes: a conv, sigmoid gates multiplied back onto
earlier nodes and residual adds (branches and merges), one `shape:` annotation per block.
Times `load` (YAML -> Spec) and `check` (graph + symbolic shapes)
in-process; growth should be close to linear (x10 nodes -> about x10 time).

    .venv/bin/python benchmarks/bench_scale.py [--quick] [--profile N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from attngen.checker import check
from attngen.loader import Loader, load

BLOCK = [  # one block of 10 nodes; {p}: previous node, {q}: last ReLU, {r}: the block's input
    "{{op: Conv2d, args: [C, C, 3], padding: 1, in: {p}}}",
    "{{op: ReLU, in: {p}}}",
    "{{op: Sigmoid, in: {p}}}",
    "{{op: mul, in: [{p}, {q}]}}",
    "{{op: add, in: [{p}, {r}], shape: [B, C, H, W]}}",
    "{{op: ReLU, in: {p}}}",
    "{{op: Sigmoid, in: {p}}}",
    "{{op: mul, in: [{p}, {q}]}}",
    "{{op: Tanh, in: {p}}}",
    "{{op: add, in: [{p}, {r}]}}",
]


def synthetic_spec(n_nodes: int) -> str:
    """A spec with exactly n_nodes nodes: blocks of conv, gates, products and residual adds."""
    lines = [f"name: Chain{n_nodes}", "params:", "  C: 16", "inputs:", "  x: [B, C, H, W]",
             "graph:"]
    prev, block_in, relu = "x", "x", "x"
    for i in range(n_nodes):
        kind = i % len(BLOCK)
        name = f"n{i}"
        if kind == 0:
            block_in = prev
        lines.append(f"  {name}: " + BLOCK[kind].format(p=prev, q=relu, r=block_in))
        if kind in (1, 5):
            relu = name
        prev = name
    lines.append(f"outputs: {prev}")
    return "\n".join(lines) + "\n"


def time_validation(n_nodes: int, repeats: int, folder: Path) -> tuple[float, float]:
    path = folder / f"chain{n_nodes}.yaml"
    path.write_text(synthetic_spec(n_nodes))
    loads, checks = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        spec = load(path, Loader())
        t1 = time.perf_counter()
        check(spec, {})
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        checks.append(t2 - t1)
    return statistics.median(loads), statistics.median(checks)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one run (for tests)")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile check() at N nodes")
    args = ap.parse_args(argv)
    sizes = [10, 100] if args.quick else [100, 1_000, 10_000]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.profile:
            import cProfile
            import pstats

            path = folder / "p.yaml"
            path.write_text(synthetic_spec(args.profile))
            spec = load(path, Loader())
            cProfile.runctx("check(spec, {})", globals(), {"spec": spec}, str(folder / "prof"))
            pstats.Stats(str(folder / "prof")).sort_stats("cumulative").print_stats(25)
            return 0
        rows, previous = [], None
        for n in sizes:
            repeats = 1 if args.quick or n >= 10_000 else 3
            load_s, check_s = time_validation(n, repeats, folder)
            total = load_s + check_s
            growth = f"x{total / previous:.1f}" if previous else ""
            rows.append((n, load_s, check_s, total, 1e6 * total / n, growth))
            previous = total
    print("| nodes | load (s) | check (s) | total (s) | per node (µs) | growth |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, a, b, c, d, g in rows:
        print(f"| {n:,} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.0f} | {g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
