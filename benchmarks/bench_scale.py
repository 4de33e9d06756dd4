"""Validation time for synthetic specs of 1,000, 2,000, 5,000 and 10,000 nodes.

Each spec is a chain of blocks of 10 nodes: a conv, sigmoid gates multiplied back onto
earlier nodes and residual adds (branches and merges), one `shape:` annotation per block.
Times `load` (YAML -> Spec) and `check` (graph + symbolic shapes) in-process, in CPU
seconds of this process, in rounds that run every size in turn (the machine's drift hits
them alike), median of the rounds, with the collector's thresholds the CLI sets
(cli.GC_THRESHOLDS); the time per node should stay close to the 1,000-node spec's
(issue 16: validation close to linear up to 10,000 nodes): the last column is that ratio.

    .venv/bin/python benchmarks/bench_scale.py [--quick] [--rounds N] [--profile N]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

from attngen.checker import check
from attngen.cli import GC_THRESHOLDS
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


def time_validation(path: Path) -> tuple[float, float]:
    """CPU seconds of this process (time slices lost to other processes do not count) to
    load and to check the spec at `path`."""
    gc.collect()  # no garbage of an earlier size collected on this one's time
    t0 = time.process_time()
    spec = load(path, Loader())
    t1 = time.process_time()
    check(spec, {})
    return t1 - t0, time.process_time() - t1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one run (for tests)")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile check() at N nodes")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every size (default 3)")
    args = ap.parse_args(argv)
    sizes = [10, 100] if args.quick else [1_000, 2_000, 5_000, 10_000]
    gc.set_threshold(*GC_THRESHOLDS)  # the collector as `attngen` runs it
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
        paths = {}
        for n in sizes:
            paths[n] = folder / f"chain{n}.yaml"
            paths[n].write_text(synthetic_spec(n))
        warm = folder / "warm.yaml"
        warm.write_text(synthetic_spec(20))
        time_validation(warm)  # sympy's and the op registry's first-use costs, not timed
        times: dict[int, list[tuple[float, float]]] = {n: [] for n in sizes}
        for r in range(1 if args.quick else args.rounds):
            for n in sizes[r % len(sizes):] + sizes[:r % len(sizes)]:
                times[n].append(time_validation(paths[n]))
    rows, first = [], None
    for n in sizes:
        load_s = statistics.median(a for a, _ in times[n])
        check_s = statistics.median(b for _, b in times[n])
        per_node = 1e6 * (load_s + check_s) / n
        first = first or per_node
        rows.append((n, load_s, check_s, load_s + check_s, per_node, per_node / first))
    print(f"| nodes | load (s) | check (s) | total (s) | per node (µs) "
          f"| per node / at {sizes[0]:,} |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, a, b, c, d, g in rows:
        print(f"| {n:,} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.0f} | {g:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
