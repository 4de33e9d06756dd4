"""Build: spec files -> generated/NAME.py, .dot and .svg, written atomically.

Every spec is checked and rendered in memory first; then the outputs of the specs that
built are written (all of them, or with `--all-or-nothing` only when every requested spec
succeeded), when every output may be written (see `refusals`), each through a temporary
file and os.replace (files.write_file), so a failing spec never leaves a half-written or
clobbered file behind. Every problem of every spec is reported at once.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import files, render
from .cache import BuildCache
from .errors import (
    BAD_NAME,
    DUPLICATE_NAME,
    FILE_ERROR,
    Collector,
    Diagnostic,
    ErrorCode,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .jobs import build_all, workers_for
from .loader import Loader, load
from .render import RenderError
from .resources import specs_dir

if TYPE_CHECKING:  # the checker imports sympy; a cached build runs without it
    from .checker import CheckCache


@dataclass
class Artifact:
    """An output file in memory: its path, its bytes, the spec it is made from and every
    file read to make it (the spec included)."""

    path: Path
    data: bytes
    source: Path | None = None
    reads: tuple[Path, ...] = ()


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
        elif (builtin := builtin_spec(p)) is not None:
            found.append(builtin)
        else:
            issues.add(error(Loc(p), FILE_ERROR, not_found_message(p)))
    issues.raise_if_any()
    if not found:
        raise error(Loc(paths[0] if paths else "."), FILE_ERROR, "no spec files (*.yaml) found")
    return found


def _is_bare(name: str) -> bool:
    return "/" not in name and "\\" not in name


def not_found_message(name: str) -> str:
    """Why `name` names no spec: no such file, or no built-in spec of that name (with a
    did-you-mean)."""
    if not _is_bare(name):
        return "no such file or folder"
    known = sorted(q.stem for q in specs_dir().glob("*.yaml"))
    return "no such file, folder or built-in spec" + did_you_mean(Path(name).stem, known)


def builtin_spec(name: str) -> Path | None:
    """The built-in spec a bare name (`eca`, `eca.yaml`) names, if there is one."""
    if not _is_bare(name):
        return None
    path = specs_dir() / (name if name.endswith(".yaml") else f"{name}.yaml")
    try:
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


def unique_files(paths: list[Path]) -> list[Path]:
    """`paths` without repeats of a file under another spelling (specs/ and ./specs/se.yaml,
    a relative and an absolute path), in order, each as first given."""
    unique: dict[Path, Path] = {}
    for path in paths:
        try:
            same = path.resolve()
        except (OSError, RuntimeError):  # a link loop: leave it to the loader to report
            same = path
        unique.setdefault(same, path)
    return list(unique.values())


def compile_spec(path: Path, loader, checked_cache: CheckCache):
    from .checker import check_once

    return check_once(load(path, loader), checked_cache)


# Generated modules are imported by name from the folder they lie in, so a stem that is a
# module's name shadows that module for code run there (`torch.py`, `typing.py`): the
# modules generated code imports (torch), Python's own, and attngen.
SHADOWED = frozenset({"torch", "attngen", *sys.stdlib_module_names})


def artifacts(paths: list[Path], out_dir: Path, *, svg: bool = True,
              use_cache: bool = True, spec_refs: bool = False, fuse: bool = True,
              include: Iterable[str | os.PathLike[str]] = (), jobs: int | None = 1
              ) -> list[Artifact]:
    """Render everything in memory; raises SpecError with all problems of all specs."""
    out, failed, _ = artifacts_each(paths, out_dir, svg=svg, use_cache=use_cache,
                                    spec_refs=spec_refs, fuse=fuse, include=include, jobs=jobs)
    issues = Collector()
    for problem in failed.values():
        issues.add(problem)
    issues.raise_if_any()
    return out


def artifacts_each(paths: list[Path], out_dir: Path, *, svg: bool = True,
                   use_cache: bool = True, spec_refs: bool = False, fuse: bool = True,
                   include: Iterable[str | os.PathLike[str]] = (), jobs: int | None = 1
                   ) -> tuple[list[Artifact], dict[Path, SpecError], dict[Path, list[Diagnostic]]]:
    """Render in memory every spec that builds: (their artifacts, {spec: its problems} for
    the others, {spec: its warnings (lint.py)} for those that built with some), each in the
    order given. Raises SpecError when an output may not be written (see `refusals`: a
    problem of the output folder, not of one spec).
    `spec_refs`: the generated source names the spec line of every forward line; `fuse`:
    written-out attention becomes one fused call (fusion.py).

    A spec whose files, attngen, its libraries and the renderer are unchanged since an
    earlier build comes from the build cache (cache.py) without being loaded or checked
    again; the others are built here (see _build_here), shared among up to `jobs` forked
    processes (None: one per CPU) where there are enough of them (jobs.py). `include`: the
    folders `use:` and `extends:` may read besides the spec's own (`-I DIR`, loader.py).
    """
    paths = unique_files(paths)
    loader = Loader(include=include)
    failed: dict[Path, SpecError] = {}
    for path in paths:
        if path.stem in SHADOWED:
            what = "Python's own" if path.stem in sys.stdlib_module_names else "the"
            failed[path] = error(Loc(str(path)), BAD_NAME, f"the generated {path.stem}.py "
                                 f"would shadow {what} module '{path.stem}' for code run in "
                                 f"{out_dir}; rename the spec (e.g. {path.stem}_block.yaml)")
    renderer = _renderer() if svg else None
    # the -I folders decide what `use:` and `extends:` find: part of every key
    store = BuildCache.open(svg=renderer is not None, spec_refs=spec_refs, fuse=fuse,
                            include=[str(d) for d in loader.include]) if use_cache else None
    suffixes = {".py", ".dot", ".svg"} if renderer else {".py", ".dot"}
    done: dict[Path, list[Artifact]] = {}
    warned: dict[Path, list[Diagnostic]] = {}
    misses: dict[Path, str | None] = {}  # spec path -> its cache key
    for path in (p for p in paths if p not in failed):
        key = store.key(path, loader.display(path)) if store else None
        hit = store.get(key) if store and key else None
        if hit is not None and set(hit.files) == suffixes:
            reads = tuple(Path(p) for p in hit.deps)
            done[path] = [Artifact(out_dir / f"{path.stem}{suffix}", data, path, reads)
                          for suffix, data in sorted(hit.files.items(),
                                                     key=lambda kv: _ORDER[kv[0]])]
            warned[path] = hit.warnings
        else:
            misses[path] = key
    def build(share: list[Path]) -> dict[Path, _Built]:
        return _build_here(share, out_dir, loader, renderer, spec_refs, fuse)

    built = build_all(list(misses), workers_for(len(misses), jobs), build)
    if store and misses and not store.unchanged():  # attngen or the renderer changed meanwhile
        store = None
    for path, key in misses.items():  # in the order given: errors and files stay in order
        arts, problem, warned[path], deps = built[path]
        if problem is not None:
            failed[path] = problem
            continue
        done[path] = arts
        if store and key and deps is not None:
            store.put(key, deps, {a.path.suffix: a.data for a in arts}, warned[path])
    out = [art for path in paths if path in done for art in done[path]]
    issues = Collector()
    for problem in refusals(out, out_dir):
        issues.add(problem)
    issues.raise_if_any()
    return (out, {path: failed[path] for path in paths if path in failed},
            {path: warned[path] for path in paths if warned.get(path) and path not in failed})


_ORDER = {".py": 0, ".dot": 1, ".svg": 2}


# a spec built: its artifacts, or the SpecError that stopped it; its warnings (lint.py); the
# digest of every file it read, for the build cache (None where one was not read whole)
_Built = tuple[list[Artifact], SpecError | None, list[Diagnostic], dict[str, str | None] | None]


def _build_here(paths: list[Path], out_dir: Path, loader, renderer,
                spec_refs: bool = False, fuse: bool = True) -> dict[Path, _Built]:
    """Each spec built (_Built), one after another, sharing loaded and checked sub-specs.
    Graphviz runs in subprocesses, one per batch of DOTs (_Drawings), while the next specs
    are checked (the threads only wait on the subprocesses); one spec draws in this thread
    (nothing to overlap, and no thread left to outlive a fork: jobs.py). A renderer
    failure is that spec's error; the other specs go on."""
    many = renderer is not None and len(paths) > 1
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2) if many else None
    drawings = _Drawings(pool, renderer)
    checked_cache: CheckCache = {}
    built: dict[Path, _Built] = {}
    try:
        for path in paths:
            try:
                arts, warnings = _build_one(path, out_dir, loader, checked_cache, drawings,
                                            spec_refs, fuse)
                built[path] = (arts, None, warnings, _digests(loader, path))
            except SpecError as exc:
                built[path] = ([], exc, [], None)
        drawings.flush()
        for path, (arts, _, warnings, _) in built.items():
            try:
                for art in arts:
                    if isinstance(art.data, Future):
                        art.data = art.data.result()
            except RenderError as exc:
                built[path] = ([], error(Loc(loader.display(path)), FILE_ERROR,
                                         f"cannot draw {path.stem}.svg: {exc}"), warnings, None)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return built


def _digests(loader: Loader, path: Path) -> dict[str, str | None] | None:
    """The digest of every file the spec read, or None where one was not read (only what
    was read is recorded in the build cache)."""
    deps = loader.files_of(path)
    if not all(p in loader.digests for p in deps):
        return None
    return {str(p): loader.digests[p] for p in deps}


def _build_one(path: Path, out_dir: Path, loader, cache: dict, drawings: _Drawings,
               spec_refs: bool = False, fuse: bool = True
               ) -> tuple[list[Artifact], list[Diagnostic]]:
    """A spec's .py, .dot and (with a renderer) .svg, and its warnings (lint.py); the SVG
    is a Future (see _Drawings)."""
    from .diagram import dot_source
    from .emit import render as emit_py
    from .lint import warnings_of

    checked = compile_spec(path, loader, cache)
    dot = dot_source(checked)
    reads = tuple(loader.files_of(path))
    source = emit_py(checked, spec_refs=spec_refs, fuse=fuse)
    arts = [Artifact(out_dir / f"{path.stem}.py", source.encode(), path, reads),
            Artifact(out_dir / f"{path.stem}.dot", dot.encode(), path, reads)]
    if drawings.renderer is not None:
        arts.append(Artifact(out_dir / f"{path.stem}.svg", drawings.add(dot), path, reads))
    return arts, warnings_of(checked)


def _renderer():
    """DOT sources -> their SVGs, or each one's RenderError (render.render_many)."""
    return render.render_many if render.available_backends() else None


class _Drawings:
    """SVGs drawn in batches of BATCH diagrams, one renderer process each (a process per
    diagram cost more than drawing most of them), on `pool` while the next specs are
    checked; each SVG is a Future, its RenderError the exception of its own Future."""

    BATCH = 8

    def __init__(self, pool: ThreadPoolExecutor | None, renderer) -> None:
        self.pool, self.renderer = pool, renderer
        self.waiting: list[tuple[str, Future[bytes]]] = []

    def add(self, dot: str) -> Any:  # a Future[bytes] in Artifact.data until resolved
        svg: Future[bytes] = Future()
        self.waiting.append((dot, svg))
        if len(self.waiting) >= self.BATCH:
            self.flush()
        return svg

    def flush(self) -> None:
        batch, self.waiting = self.waiting, []
        if batch and self.pool is not None:
            self.pool.submit(self._draw, batch)
        elif batch:
            self._draw(batch)

    def _draw(self, batch: list[tuple[str, Future[bytes]]]) -> None:
        drawn: list[bytes | Exception]
        try:
            drawn = list(self.renderer([dot for dot, _ in batch], "svg"))
        except Exception as exc:  # noqa: BLE001  (never leave a Future unresolved)
            drawn = [exc] * len(batch)
        for (_, svg), result in zip(batch, drawn, strict=True):
            if isinstance(result, Exception):
                svg.set_exception(result)
            else:
                svg.set_result(result)


# -- writing -------------------------------------------------------------------------------
def refusals(arts: list[Artifact], root: Path) -> list[SpecError]:
    """Every reason not to write these outputs into the folder `root`, each located:
    - two outputs at one path (compared ignoring case, as macOS and Windows do);
    - an output that would overwrite a file read to make the outputs (a spec `model.dot`
      built into its own folder);
    - at an output path, a symbolic link or anything but a regular file (a FIFO, a device,
      a folder): it is neither read nor replaced;
    - below `root`, a folder that is a symbolic link (files would land outside `root`) or a
      file. (`root` itself and the folders above it are the caller's to check: see
      folder_problem.)"""
    issues: list[SpecError] = []
    inputs = {}
    for art in arts:
        for read in art.reads:
            try:
                st = os.stat(read)
            except (OSError, ValueError):
                continue
            inputs[(st.st_dev, st.st_ino)] = read
    seen: dict[str, Artifact] = {}
    folders: dict[Path, tuple[ErrorCode, str] | None] = {}
    for art in arts:
        key = os.path.normcase(os.path.abspath(art.path)).casefold()
        if key in seen:
            first = seen[key]
            where = Loc(str(art.source or art.path))
            issues.append(error(where, DUPLICATE_NAME, f"{art.path} would be written twice: for "
                                f"{first.source or first.path} and for "
                                f"{art.source or art.path}; rename one of them"))
            continue
        seen[key] = art
        folder = art.path.parent
        if folder not in folders:
            folders[folder] = folder_problem(folder, root)
        problem = folders[folder] or _target_problem(art.path, inputs)
        if problem:
            code, message = problem
            issues.append(error(Loc(str(art.path)), code, message))
    return issues


def folder_problem(folder: Path, root: Path | None = None) -> tuple[ErrorCode, str] | None:
    """Why files cannot be put in `folder` (created where missing): a file where a folder
    should be; below `root`, a symbolic link. An (error code, message) pair, or None."""
    folder = Path(folder)
    for part in [*reversed(folder.parents), folder]:
        try:
            mode = os.lstat(part).st_mode
        except FileNotFoundError:
            return None  # it and the folders below it will be created
        except (OSError, ValueError) as exc:
            return FILE_ERROR, f"cannot access '{part}': {getattr(exc, 'strerror', None) or exc}"
        if stat.S_ISLNK(mode):
            if root is not None and part != root and Path(root) in part.parents:
                return FILE_ERROR, (f"'{part}' is a symbolic link: attngen writes only inside "
                                f"{root}; replace the link by a folder")
            try:
                mode = os.stat(part).st_mode
            except OSError as exc:
                return FILE_ERROR, f"cannot access '{part}': {exc.strerror}"
        if not stat.S_ISDIR(mode):
            return FILE_ERROR, f"'{part}' is a file, not a folder"
    return None


def _target_problem(path: Path, inputs: dict) -> tuple[ErrorCode, str] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return FILE_ERROR, f"cannot access it: {getattr(exc, 'strerror', None) or exc}"
    if not stat.S_ISREG(st.st_mode):
        return FILE_ERROR, (f"is {files.kind(st.st_mode)}, not a regular file: attngen neither "
                        "reads nor replaces it; remove it to write the output here")
    if (st.st_dev, st.st_ino) in inputs:
        return DUPLICATE_NAME, (
            f"the output would overwrite {inputs[(st.st_dev, st.st_ino)]}, a file "
            "this build reads; rename the spec or choose another -o folder"
        )
    return None


def _changed(arts: list[Artifact], root: Path) -> list[Artifact]:
    """The artifacts whose file is missing or differs; raises SpecError with every refusal
    (see refusals) and every file that cannot be compared. Reads only regular files."""
    issues = Collector()
    for problem in refusals(arts, root):
        issues.add(problem)
    issues.raise_if_any()
    changed = []
    for art in arts:
        try:
            old = files.read_regular(art.path, len(art.data), follow=False)
        except FileNotFoundError:
            changed.append(art)
            continue
        except files.NotRegular as exc:  # changed under us since refusals() looked
            issues.add(error(Loc(str(art.path)), FILE_ERROR,
                             f"is {exc.strerror}, not a regular file: attngen does not read it"))
            continue
        except OSError as exc:
            issues.add(error(Loc(str(art.path)), FILE_ERROR,
                             f"cannot read it: {exc.strerror or exc}"))
            continue
        if old != art.data:
            changed.append(art)
    issues.raise_if_any()
    return changed


def stale(arts: list[Artifact], root: Path) -> list[Path]:
    """Files that regenerating would create or change (nothing is written)."""
    return [art.path for art in _changed(arts, root)]


def write_atomic(arts: list[Artifact], root: Path) -> list[Path]:
    """Write the files whose content changed, each atomically (files.write_file), into the
    folder `root`; first remove what killed writes of these files left there. Raises
    SpecError, before writing anything, when an output may not be written (refusals)."""
    changed = _changed(arts, root)
    by_folder: dict[Path, set[str]] = {}
    for art in arts:
        by_folder.setdefault(art.path.parent, set()).add(art.path.name)
    for folder, names in by_folder.items():
        files.remove_leftovers(folder, names)
    written = []
    for art in changed:
        try:
            art.path.parent.mkdir(parents=True, exist_ok=True)
            files.write_file(art.path, art.data)
        except OSError as exc:  # disk full, read-only or immutable folder: name the target
            raise error(Loc(str(art.path)), FILE_ERROR,
                        f"cannot write it: {exc.strerror or exc}") from None
        written.append(art.path)
    return written
