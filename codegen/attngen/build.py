"""Build: spec files -> generated/NAME.py, .dot and .svg, written atomically.

Every spec is checked and rendered in memory first; files are written only when
every requested spec succeeded, each through a temporary file and os.replace, so a
failing spec never leaves a half-written or clobbered file behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import Collector, Loc, SpecError, did_you_mean, error
from .resources import specs_dir


@dataclass
class Artifact:
    path: Path
    data: bytes


def collect_specs(paths: list[str]) -> list[Path]:
    """Files as given; folders contribute their *.yaml files (not recursive), sorted.

    A bare name that is no file (`eca`, `eca.yaml`) names a built-in spec, so an installed
    attngen can build its library from anywhere.
    """
    found, issues = [], Collector()
    for p in paths:
        path = Path(p)
        try:
            is_dir, is_file = path.is_dir(), path.is_file()
        except (OSError, ValueError):  # a name the file system refuses (too long, NUL)
            is_dir = is_file = False
        if is_dir:
            found += sorted(path.glob("*.yaml"))
        elif is_file:
            found.append(path)
        elif (builtin := _builtin(p)) is not None:
            found.append(builtin)
        else:
            issues.add(error(Loc(p), "E500", _not_found(p)))
    issues.raise_if_any()
    if not found:
        raise error(Loc(paths[0] if paths else "."), "E500", "no spec files (*.yaml) found")
    return found


def _is_bare(name: str) -> bool:
    return "/" not in name and "\\" not in name


def _not_found(name: str) -> str:
    if not _is_bare(name):
        return "no such file or folder"
    known = sorted(q.stem for q in specs_dir().glob("*.yaml"))
    return "no such file, folder or built-in spec" + did_you_mean(Path(name).stem, known)


def _builtin(name: str) -> Path | None:
    if not _is_bare(name):
        return None
    path = specs_dir() / (name if name.endswith(".yaml") else f"{name}.yaml")
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def compile_spec(path: Path, loader, checked_cache: dict):
    from .shapes import check_once
    from .spec import load

    return check_once(load(path, loader), checked_cache)


def artifacts(paths: list[Path], out_dir: Path, *, svg: bool = True, use_cache: bool = True,
              jobs: int = 1, spec_refs: bool = False) -> list[Artifact]:
    """Render everything in memory; raises SpecError with all problems of all specs.
    `spec_refs`: the generated source names the spec line of every forward line.

    A spec whose files, attngen and renderer are unchanged since an earlier build comes
    from the build cache (cache.py) without being loaded or checked again. The others
    are built in up to `jobs` processes (see _build_in_processes).
    """
    from .cache import BuildCache, file_hash
    from .spec import Loader

    loader, issues = Loader(), Collector()
    renderer = _renderer() if svg else None
    store = BuildCache.open(svg=renderer is not None, spec_refs=spec_refs) if use_cache else None
    suffixes = {".py", ".dot", ".svg"} if renderer else {".py", ".dot"}
    done: dict[Path, list[Artifact]] = {}
    misses: dict[Path, str | None] = {}  # spec path -> its cache key
    for path in paths:
        key = store.key(path, loader.display(path)) if store else None
        hit = store.get(key) if store else None
        if hit is not None and set(hit) == suffixes:
            done[path] = [Artifact(out_dir / f"{path.stem}{suffix}", data)
                          for suffix, data in sorted(hit.items(), key=lambda kv: _ORDER[kv[0]])]
        elif path not in done:
            misses[path] = key
    jobs = min(jobs, len(misses) // _SPECS_PER_JOB)
    built = None
    if jobs > 1 and sys.platform.startswith("linux"):
        built = _build_in_processes(list(misses), out_dir, renderer, jobs, spec_refs)
    if built is None:
        built = _build_here(list(misses), out_dir, loader, renderer, spec_refs)
    for path, key in misses.items():  # in the order given: errors and files stay in order
        arts, problem, deps = built[path]
        if problem is not None:
            issues.add(problem)
            continue
        done[path] = arts
        if store:
            store.put(key, {str(p): file_hash(p) for p in deps},
                      {a.path.suffix: a.data for a in arts})
    issues.raise_if_any()
    return [art for path in dict.fromkeys(paths) for art in done[path]]


_ORDER = {".py": 0, ".dot": 1, ".svg": 2}
_SPECS_PER_JOB = 2  # fewer specs than this per process: forking costs more than it saves

# a built spec: its artifacts, or the SpecError that stopped it, and the files it read
Built = tuple[list[Artifact], SpecError | None, list[Path]]


def _build_here(paths: list[Path], out_dir: Path, loader, renderer,
                spec_refs: bool = False) -> dict[Path, Built]:
    """Build in this process, one spec after another, sharing loaded and checked sub-specs.
    Graphviz runs in subprocesses: each SVG starts as soon as its DOT exists, while the
    next specs are checked (the threads only wait on the subprocesses)."""
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2) if renderer and paths else None
    checked_cache: dict = {}
    built: dict[Path, Built] = {}
    try:
        for path in paths:
            try:
                arts = _build_one(path, out_dir, loader, checked_cache, pool, renderer,
                                  spec_refs)
                built[path] = (arts, None, loader.files_of(path))
            except SpecError as exc:
                built[path] = ([], exc, [])
        for arts, _, _ in built.values():
            for art in arts:
                if isinstance(art.data, Future):
                    art.data = art.data.result()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return built


def _build_in_processes(paths: list[Path], out_dir: Path, renderer, jobs: int,
                        spec_refs: bool = False) -> dict[Path, Built] | None:
    """Build in `jobs` forked processes, each spec on its own (the checker is pure Python
    and holds the GIL, so threads would not help). The checker's libraries are imported
    here first, so the children share them instead of importing them again. Each child
    returns plain data: files, diagnostics and the paths it read. None if the processes
    could not be started or one died (then the caller builds here)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    from . import diagram, emit, shapes  # noqa: F401  (imported once, before the fork)

    emit.warm_up()
    shapes.warm_up()
    # the largest specs first, so no long one is left for the end
    order = sorted(paths, key=_size, reverse=True)
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork"),
                                 initializer=_start_worker,
                                 initargs=(renderer, spec_refs)) as pool:
            results = dict(zip(order, pool.map(_build_alone, order, [out_dir] * len(order))))
    except (BrokenProcessPool, OSError):  # no fork here (limits), or a child was killed
        return None
    built = {}
    for path, (arts, diagnostics, deps) in results.items():
        built[path] = (arts, SpecError(diagnostics) if diagnostics else None, deps)
    return built


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# A build process's state, kept across the specs it builds: one Loader and one cache of
# checked specs, as _build_here shares them, so a sub-spec is loaded and checked once per
# process, not once per spec that uses it.
_WORKER: dict = {}


def _start_worker(renderer, spec_refs: bool = False) -> None:
    from .spec import Loader

    _WORKER.update(loader=Loader(), checked={}, renderer=renderer, spec_refs=spec_refs)


def _build_alone(path: Path, out_dir: Path):
    """One spec, in a build process: plain data for the parent."""
    loader = _WORKER["loader"]
    try:
        arts = _build_one(path, out_dir, loader, _WORKER["checked"], None, _WORKER["renderer"],
                          _WORKER["spec_refs"])
    except SpecError as exc:
        return [], exc.diagnostics, []
    return arts, None, loader.files_of(path)


def _build_one(path: Path, out_dir: Path, loader, cache: dict, pool, renderer,
               spec_refs: bool = False) -> list[Artifact]:
    """A spec's .py, .dot and (with a renderer) .svg; the SVG is a Future when `pool` is given."""
    from .diagram import dot_source
    from .emit import render

    checked = compile_spec(path, loader, cache)
    dot = dot_source(checked)
    arts = [Artifact(out_dir / f"{path.stem}.py", render(checked, spec_refs=spec_refs).encode()),
            Artifact(out_dir / f"{path.stem}.dot", dot.encode())]
    if renderer is not None:
        svg = pool.submit(renderer, dot, "svg") if pool is not None else renderer(dot, "svg")
        arts.append(Artifact(out_dir / f"{path.stem}.svg", svg))
    return arts


def _renderer():
    from . import render

    return render.render if render.available_backends() else None


def write_atomic(artifacts: list[Artifact]) -> list[Path]:
    """Write files whose content changed; each via a temp file + os.replace."""
    written = []
    for art in artifacts:
        if art.path.exists() and art.path.read_bytes() == art.data:
            continue
        art.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=art.path.parent, prefix=f".{art.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(art.data)
            os.replace(tmp, art.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(art.path)
    return written


def stale(artifacts: list[Artifact]) -> list[Path]:
    """Files that regenerating would create or change."""
    return [a.path for a in artifacts if not a.path.exists() or a.path.read_bytes() != a.data]
