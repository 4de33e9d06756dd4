"""`attngen build --watch`: build, then rebuild what each change of spec files affects;
`attngen show SPEC --watch`: the terminal drawing, drawn again at each change.

One process stays up, so sympy and the op library are imported once and a rebuild takes
tens of milliseconds. Each spec is built and written on its own (a broken spec does not
hold back the others' files); after a change, the specs rebuilt are those that read a
changed file (through `use:` and `extends:`, as the build records), new specs, and those
that failed last time. Errors print as `attngen build` prints them. Ctrl-C (or `stop`, a
threading.Event, for callers in Python) ends it with exit status 0.

Needs watchfiles (the `serve` extra: pip install 'attngen[serve]').
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import watchfiles

from .build import artifacts, collect_specs, compile_spec, unique_files, write_atomic
from .errors import SpecError, report
from .lanes import draw
from .loader import Loader, real_path

STEP_MS = 30  # watchfiles: quiet time that ends a batch of changes
SPEC_SUFFIXES = (".yaml", ".yml")
CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen: one drawing on screen at a time


def spec_filter(_change: watchfiles.Change, path: str) -> bool:
    return path.endswith(SPEC_SUFFIXES)


class Watcher:
    """What one `build --watch` knows between changes: each spec's files read, or None for
    a spec whose last build failed (rebuilt on every change)."""

    def __init__(self, paths: list[str], out_dir: Path, *, svg: bool, spec_refs: bool,
                 include: Iterable[str], use_cache: bool, fuse: bool = True) -> None:
        self.paths, self.out_dir = paths, out_dir
        self.svg, self.spec_refs, self.use_cache = svg, spec_refs, use_cache
        self.fuse = fuse
        self.include = list(include)
        self.reads: dict[Path, frozenset[Path] | None] = {}

    def specs(self) -> list[Path]:
        try:
            return unique_files(collect_specs(self.paths))
        except SpecError as exc:  # the folder holds no spec (yet): say so, keep watching
            _print_errors(exc)
            return []

    def folders(self) -> list[Path]:
        found = {real_path(Path(p)) for p in self.paths}
        found = {p if p.is_dir() else p.parent for p in found}
        return sorted(found | {real_path(Path(d)) for d in self.include})

    def affected(self, changed: set[Path] | None) -> list[Path]:
        specs = self.specs()
        self.reads = {p: self.reads.get(p) for p in specs}  # forget removed specs
        if changed is None:
            return specs
        return [p for p, reads in self.reads.items()
                if reads is None or reads & changed or real_path(p) in changed]

    def build(self, changed: set[Path] | None = None) -> tuple[int, int]:
        """Build the affected specs; (specs built, files written). Errors are printed."""
        todo, written = self.affected(changed), 0
        for path in todo:
            try:
                arts = artifacts([path], self.out_dir, svg=self.svg, use_cache=self.use_cache,
                                 spec_refs=self.spec_refs, fuse=self.fuse,
                                 include=self.include)
                written += len(write_atomic(arts, self.out_dir))
                self.reads[path] = frozenset(real_path(r) for a in arts for r in a.reads)
            except SpecError as exc:
                self.reads[path] = None
                _print_errors(exc)
        return len(todo), written


def _print_errors(exc: SpecError) -> None:
    for line in report(exc.diagnostics):
        print(line, file=sys.stderr, flush=True)


def watch_build(paths: list[str], out_dir: Path, *, svg: bool = True, spec_refs: bool = False,
                include: Iterable[str] = (), use_cache: bool = True, fuse: bool = True,
                stop: threading.Event | None = None) -> int:
    """Build, then rebuild on every change until Ctrl-C or `stop`; exit status 0."""
    watcher = Watcher(paths, out_dir, svg=svg, spec_refs=spec_refs, include=include,
                      use_cache=use_cache, fuse=fuse)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C, at any point: a clean stop
        _loop(watcher, out_dir, stop)
    print("stopped watching", flush=True)
    return 0


def _loop(watcher: Watcher, out_dir: Path, stop: threading.Event | None) -> None:
    start = time.perf_counter()
    n, written = watcher.build()
    print(f"built {n} spec(s): {written} file(s) written in {out_dir}/ "
          f"({time.perf_counter() - start:.2f} s); watching "
          f"{', '.join(map(str, watcher.folders()))} (Ctrl-C stops)", flush=True)
    for changes in watchfiles.watch(*watcher.folders(), watch_filter=spec_filter,
                                    step=STEP_MS, stop_event=stop, rust_timeout=500,
                                    yield_on_timeout=False):
        changed = {real_path(Path(p)) for _, p in changes}
        start = time.perf_counter()
        n, written = watcher.build(changed)
        if n:
            names = ", ".join(sorted(Path(p).name for p in changed))
            print(f"{names} changed: rebuilt {n} spec(s), {written} file(s) written "
                  f"({(time.perf_counter() - start) * 1000:.0f} ms)", flush=True)


def watch_show(path: Path, *, width: int | None, collapse: bool, include: Iterable[str] = (),
               stop: threading.Event | None = None) -> int:
    """`attngen show SPEC --watch`: the lanes drawing, drawn again at each change of a file
    the spec reads; while the spec is broken, its errors under the last good drawing."""
    def show() -> frozenset[Path]:
        loader = Loader(include=include)
        columns = width or shutil.get_terminal_size().columns
        try:
            drawing = draw(compile_spec(path, loader, {}), columns, collapse)
            last[:] = drawing
            errors = None
        except SpecError as exc:
            errors = exc
        sys.stdout.write(CLEAR if sys.stdout.isatty() else "\n")
        print("\n".join(last), flush=True)
        if errors is not None:
            print(f"\n(the drawing above is stale: {path} has errors)", flush=True)
            _print_errors(errors)
        return frozenset(real_path(p) for p in loader.files_of(path)) | {real_path(path)}

    last: list[str] = []
    with contextlib.suppress(KeyboardInterrupt):
        reads = show()
        folders = sorted({p.parent for p in reads} | {real_path(Path(d)) for d in include})
        for changes in watchfiles.watch(*folders, watch_filter=spec_filter, step=STEP_MS,
                                        stop_event=stop, rust_timeout=500):
            if reads & {real_path(Path(p)) for _, p in changes}:
                reads = show()
    print("stopped watching", flush=True)
    return 0
