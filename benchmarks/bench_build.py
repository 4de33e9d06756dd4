"""Wall time of `attngen build specs/ -o TMP` for the whole library, and where it goes.

1. End to end: `attngen build SPECS -o TMP --no-cache` in a fresh subprocess (Python
   start-up and imports included) into an empty folder, interleaved round by round with a
   reference command that
   only imports the libraries the checker is built on (`import sympy, networkx`, then exit
   at once, as `attngen` does): this machine's speed drifts by half within minutes, so the
   per-round ratio to the reference is the steady number, the seconds are what a user
   waits. attngen's modules are byte-compiled first and the subprocesses may write
   bytecode, as after `pip install` (a shell that sets PYTHONDONTWRITEBYTECODE would
   otherwise make every run compile attngen's source again). Each round also times
   the library built in one process (`-j 1`; the default shares it among the CPUs) and
   attngen's imports alone (what every cold build pays before reading a spec).
2. Torch is never imported: the same build in a subprocess under `-X importtime`, whose
   import log must not name `torch`; the in-process breakdown also checks sys.modules.
   Also its CPU time (user + sys, Graphviz children included).
3. The build cache: nothing changed, and one spec edited before each build.
4. Breakdown, in this process, one spec after another: import (attngen modules, sympy,
   networkx, jinja2), load (YAML -> Spec), check (graph + symbolic shapes), emit (Python
   source + DOT) and render (DOT -> SVG by Graphviz).
5. With --instructions (needs valgrind): instructions counted by callgrind, which do not
   drift with the machine's speed, for a build without SVG (`--no-svg`: Graphviz is not
   followed), for attngen's imports alone, and for the reference.

    .venv/bin/python benchmarks/bench_build.py [--quick] [--runs N] [--profile] [--instructions]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from attngen.jobs import usable_cpus

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BUILD = [sys.executable, "-m", "attngen.cli", "build"]


# issue 16's reference: the two libraries the checker is built on, imported, then a normal exit
REFERENCE = [sys.executable, "-c", "import sympy, networkx"]
SINGLE = "eca.yaml"  # the cold single-spec build of issue 16
GROWN = 90  # specs in the grown library (issue 16: "as the library grows to 40+ specs")
RATIO_TARGETS = {"library": 1.5, "single": 1.0}  # issue 16, cold, / reference
# attngen's imports, Jinja's templates and sympy's lazy import on its first sum
IMPORTS = [sys.executable, "-c", (
    "import os, jinja2, sympy, attngen.build, attngen.cli, attngen.diagram, attngen.emit, "
    "attngen.checker; from attngen.resources import templates_dir; "
    "env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir()))); "
    "[env.get_template(n) for n in ('module.py.j2', 'class.py.j2')]; "
    "sympy.Symbol('a') + sympy.Symbol('b'); os._exit(0)")]


def installed_env() -> dict:
    """attngen byte-compiled and bytecode writes allowed, as after `pip install`."""
    import compileall

    import attngen

    compileall.compile_dir(str(Path(attngen.__file__).parent), quiet=1)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _timed(cmd: list[str], env: dict | None) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the command and everything it started)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def grown_library(folder: Path, n: int = GROWN) -> int:
    """Real specs in `folder`: the library (specs/*.yaml), its variants (specs/variants/,
    whose `extends:` names a library spec found in the same folder), then renamed copies
    of library specs (`copy1_se.yaml`, class `SEAttentionCopy1`: checked and emitted as
    their own modules; their `use:` reads the originals) until there are `n`. Returns the
    count."""
    folder.mkdir(parents=True, exist_ok=True)
    library = sorted(SPECS.glob("*.yaml"))
    for path in [*library, *sorted((SPECS / "variants").glob("*.yaml"))]:
        shutil.copy(path, folder / path.name)
    count, k = len(list(folder.glob("*.yaml"))), 0
    while count < n:
        path = library[k % len(library)]
        copy = 1 + k // len(library)
        text = re.sub(r"^name: (\w+)", rf"name: \g<1>Copy{copy}",
                      path.read_text(encoding="utf-8"), count=1, flags=re.M)
        (folder / f"copy{copy}_{path.name}").write_text(text, encoding="utf-8")
        count, k = count + 1, k + 1
    return count


def cold_rounds(runs: int, specs: Path, env: dict) -> dict[str, list[tuple[float, float]]]:
    """Interleaved rounds of cold builds (`--no-cache`, a fresh process, an empty output
    folder): the library in `specs` (as `attngen build` shares it among the CPUs, and in
    one process), one spec (eca.yaml), attngen's imports alone (the floor of any cold
    build) and the reference import. The order rotates per round."""
    commands = {
        "library": lambda tmp: [*BUILD, str(specs), "-o", tmp, "--no-cache"],
        "one process": lambda tmp: [*BUILD, str(specs), "-o", tmp, "--no-cache", "-j", "1"],
        "single": lambda tmp: [*BUILD, str(SPECS / SINGLE), "-o", tmp, "--no-cache"],
        "imports": lambda tmp: IMPORTS,
        "reference": lambda tmp: REFERENCE,
    }
    out: dict[str, list[tuple[float, float]]] = {key: [] for key in commands}
    keys = list(commands)
    for i in range(runs):
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            with tempfile.TemporaryDirectory() as tmp:
                out[key].append(_timed(commands[key](tmp), env))
    return out


def wall_times(runs: int, specs: Path, *extra: str, env: dict | None = None,
               before=None) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + sys of the build and its Graphviz children).

    `before(i)` runs ahead of build i (to edit a spec)."""
    times, cpu = [], []
    for i in range(runs):
        if before is not None:
            before(i)
        with tempfile.TemporaryDirectory() as tmp:
            wall, used = _timed([*BUILD, str(specs), "-o", tmp, *extra], env)
        times.append(wall)
        cpu.append(used)
    return times, cpu


def cached_times(
    runs: int, specs: Path, base_env: dict
) -> dict[str, tuple[list[float], list[float]]]:
    """With the build cache: nothing changed since the last build, and one spec edited
    (se.yaml, which nothing else uses) before each build. A private cache folder."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "specs"
        shutil.copytree(specs, copy)
        env = {**base_env, "ATTNGEN_CACHE_DIR": str(Path(tmp) / "cache")}
        env.pop("ATTNGEN_NO_CACHE", None)
        wall_times(1, copy, env=env)  # fill the cache
        unchanged = wall_times(runs, copy, env=env)
        edited = copy / "se.yaml"
        text = edited.read_text(encoding="utf-8")

        def edit(i):
            edited.write_text(text + f"# edit {i}\n", encoding="utf-8")

        one_edited = wall_times(runs, copy, env=env, before=edit)
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.run([sys.executable, "-X", "importtime", *BUILD[1:], str(copy),
                                   "-o", out], check=True, capture_output=True, text=True,
                                  env=env)
        sympy_on_hit = any(line.rsplit("|", 1)[-1].strip() == "sympy"
                           for line in proc.stderr.splitlines())
    return {"unchanged": unchanged, "one spec edited": one_edited, "sympy": sympy_on_hit}


def python_startup(runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def imported_modules(specs: Path) -> set[str]:
    """Top-level packages imported by one build, from `-X importtime`'s log."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-X", "importtime", *BUILD[1:], str(specs),
                               "-o", tmp, "--no-cache"], check=True, capture_output=True,
                              text=True)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def breakdown(specs: Path) -> dict[str, float]:
    """Seconds per phase, in this (fresh) process; imports first."""
    torch_before = "torch" in sys.modules  # (a test process may have it already)
    t0 = time.perf_counter()
    from attngen.build import collect_specs
    from attngen.checker import check_once
    from attngen.diagram import dot_source
    from attngen.emit import render as emit_py
    from attngen.loader import Loader, load
    from attngen.render import available_backends, render

    phases = dict.fromkeys(("import", "load", "check", "emit", "render"), 0.0)
    phases["import"] = time.perf_counter() - t0
    loader, cache = Loader(), {}
    svg = bool(available_backends())
    for path in collect_specs([str(specs)]):
        t0 = time.perf_counter()
        spec = load(path, loader)
        t1 = time.perf_counter()
        checked = check_once(spec, cache)  # as the build does
        t2 = time.perf_counter()
        emit_py(checked)
        dot = dot_source(checked)
        t3 = time.perf_counter()
        if svg:
            render(dot, "svg")
        t4 = time.perf_counter()
        phases["load"] += t1 - t0
        phases["check"] += t2 - t1
        phases["emit"] += t3 - t2
        phases["render"] += t4 - t3
    assert torch_before or "torch" not in sys.modules, "the build imported torch"
    return phases


def instructions(cmd: list[str], env: dict) -> int:
    """Instructions one command executes (valgrind's callgrind; child processes not followed)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["valgrind", "--tool=callgrind",
                               f"--callgrind-out-file={tmp}/callgrind.out", *cmd],
                              capture_output=True, text=True, env=env, check=True)
    return int(re.search(r"Collected : (\d+)", proc.stderr).group(1))


def print_instructions(specs: Path, env: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        build = instructions([*BUILD, str(specs), "-o", tmp, "--no-cache", "--no-svg"], env)
    with tempfile.TemporaryDirectory() as tmp:
        single = instructions([*BUILD, str(SPECS / SINGLE), "-o", tmp, "--no-cache",
                               "--no-svg"], env)
    imports, ref = instructions(IMPORTS, env), instructions(REFERENCE, env)
    print("\n| instructions (callgrind) | billions | / reference |\n|---|---:|---:|")
    for label, n in (
        ("cold build, `--no-svg`", build),
        ("  of which attngen's imports (sympy, networkx, jinja2, yaml, ...)", imports),
        ("  of which the work (load, check, emit)", build - imports),
        (f"cold build of `{SINGLE}`, `--no-svg`", single),
        ("reference: `import sympy, networkx`", ref),
    ):
        print(f"| {label} | {n / 1e9:.2f} | {n / ref:.2f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run of each (for tests)")
    ap.add_argument("--runs", type=int, default=7, help="subprocess builds to time (default 7)")
    ap.add_argument("--specs", type=Path, default=None,
                    help="a spec folder to build instead of the grown library")
    ap.add_argument("--grow", type=int, default=GROWN,
                    help=f"specs in the grown library (default {GROWN}; 0: specs/ alone)")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile one in-process build instead (top 30 by cumulative time)")
    ap.add_argument("--instructions", action="store_true",
                    help="also count instructions with valgrind (about 1.5 minutes)")
    args = ap.parse_args(argv)
    if args.profile:
        import cProfile
        import pstats

        from attngen.cli import main as cli_main

        with tempfile.TemporaryDirectory() as tmp:
            prof = Path(tmp) / "prof"
            cProfile.runctx("cli_main(['build', str(s), '-o', str(o)])", globals(),
                            {"cli_main": cli_main, "s": args.specs or SPECS,
                             "o": Path(tmp) / "out"},
                            str(prof))
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(30)
        return 0
    runs = 1 if args.quick else args.runs
    env = installed_env()
    with tempfile.TemporaryDirectory() as grown:
        specs = args.specs or (SPECS if args.grow <= 0 else Path(grown) / "specs")
        if args.specs is None and args.grow > 0:
            grown_library(specs, args.grow)
        n_specs = len(list(specs.glob("*.yaml")))
        modules = imported_modules(specs)
        if "torch" in modules:
            print("error: `attngen build` imported torch", file=sys.stderr)
            return 1
        phases = breakdown(specs)  # also asserts torch stays out of sys.modules
        cold = cold_rounds(runs, specs, env)
        cached = cached_times(runs, specs, env)
    start = python_startup(runs)
    what = f"{specs}" if args.specs is not None or args.grow <= 0 else \
        "the library, its variants and renamed copies (grown_library)"
    print(f"`attngen build` of {what}: {n_specs} specs, {3 * n_specs} files, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"torch imported: no; third-party packages imported: "
          f"{', '.join(sorted(m for m in modules if m in THIRD_PARTY)) or 'none'}\n")
    print(f"| measure ({runs} interleaved rounds) | median (s) | min (s) | max (s) "
          "| / reference: median [min, max] of the rounds | target | CPU s | CPU / ref |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    ref = [w for w, _ in cold["reference"]]
    ref_cpu = [c for _, c in cold["reference"]]
    labels = {"library": f"cold build of the {n_specs} specs, `--no-cache` (one process per "
                         f"CPU: {usable_cpus()})",
              "one process": "the same in one process (`-j 1`)",
              "single": f"cold build of `{SINGLE}`, `--no-cache`",
              "imports": "attngen's imports alone (no spec read; sympy, networkx, jinja2, "
                         "yaml, templates, sympy's lazy import)",
              "reference": "reference: `python -c \"import sympy, networkx\"`"}
    misses = []
    for key, label in labels.items():
        walls = [w for w, _ in cold[key]]
        ratios = [w / r for w, r in zip(walls, ref, strict=True)]
        ratio = statistics.median(ratios)
        goal = RATIO_TARGETS.get(key)
        if goal is not None and ratio > goal:
            misses.append(f"{key} {ratio:.2f} > {goal}")
        cpu = [c for _, c in cold[key]]
        cpu_ratio = statistics.median(c / r for c, r in zip(cpu, ref_cpu, strict=True))
        print(f"| {label} | {statistics.median(walls):.3f} | {min(walls):.3f} "
              f"| {max(walls):.3f} | {ratio:.2f} [{min(ratios):.2f}, {max(ratios):.2f}] "
              f"| {'' if goal is None else f'<= {goal}'} | {statistics.median(cpu):.3f} "
              f"| {cpu_ratio:.2f} |")
    for label in ("unchanged", "one spec edited"):
        w = cached[label][0]
        print(f"| build cache, {label} | {statistics.median(w):.3f} | {min(w):.3f} "
              f"| {max(w):.3f} | | | | |")
    print(f"| bare Python start-up | {start:.3f} | | | | | | |")
    for name, secs in phases.items():
        label = "render (one after another; the build overlaps them)" if name == "render" \
            else name
        print(f"| in-process: {label} | {secs:.3f} | | | | | | |")
    print(f"| in-process: total | {sum(phases.values()):.3f} | | | | | | |")
    print("\n" + ("ratio targets missed: " + "; ".join(misses) if misses
                  else "every ratio target met"))
    print(f"A build served from the cache imports sympy: {'yes' if cached['sympy'] else 'no'}")
    if args.instructions:
        if shutil.which("valgrind") is None:
            print("error: --instructions needs valgrind", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as grown:
            specs = args.specs or (SPECS if args.grow <= 0 else Path(grown) / "specs")
            if args.specs is None and args.grow > 0:
                grown_library(specs, args.grow)
            print_instructions(specs, env)
    return 0


THIRD_PARTY = {"sympy", "networkx", "jinja2", "yaml", "ruamel", "mpmath", "markupsafe", "torch",
               "numpy"}

if __name__ == "__main__":
    sys.exit(main())
