"""Build: spec files -> generated/NAME.py, .dot and .svg, written atomically.

Every spec is checked and rendered in memory first; files are written only when
every requested spec succeeded, each through a temporary file and os.replace, so a
failing spec never leaves a half-written or clobbered file behind.
"""

from __future__ import annotations

import os
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
    from .shapes import check
    from .spec import load

    spec = load(path, loader)
    return check(spec, checked_cache)


def artifacts(paths: list[Path], out_dir: Path, *, svg: bool = True,
              use_cache: bool = True) -> list[Artifact]:
    """Render everything in memory; raises SpecError with all problems of all specs.

    A spec whose files, attngen and renderer are unchanged since an earlier build comes
    from the build cache (cache.py) without being loaded or checked again.
    """
    from .cache import BuildCache, file_hash
    from .spec import Loader

    loader, cache, issues, out = Loader(), {}, Collector(), []
    renderer = _renderer() if svg else None
    store = BuildCache.open(svg=renderer is not None) if use_cache else None
    fresh = []  # (cache key, spec path, its artifacts) to store once complete
    # Graphviz runs in subprocesses: start each SVG as soon as its DOT exists, while the
    # next specs are checked (threads only wait on the subprocesses).
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2) if renderer else None
    try:
        for path in paths:
            key = store.key(path, loader.display(path)) if store else None
            hit = store.get(key) if store else None
            if hit is not None and set(hit) == ({".py", ".dot", ".svg"} if renderer
                                                else {".py", ".dot"}):
                out += [Artifact(out_dir / f"{path.stem}{suffix}", data)
                        for suffix, data in sorted(hit.items(), key=lambda kv: _ORDER[kv[0]])]
                continue
            try:
                arts = _build_one(path, out_dir, loader, cache, pool, renderer)
            except SpecError as exc:
                issues.add(exc)
                continue
            out += arts
            if store:
                fresh.append((key, path, arts))
        issues.raise_if_any()
        for art in out:
            if isinstance(art.data, Future):
                art.data = art.data.result()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for key, path, arts in fresh:
        deps = {str(p): file_hash(p) for p in loader.files_of(path)}
        store.put(key, deps, {a.path.suffix: a.data for a in arts})
    return out


_ORDER = {".py": 0, ".dot": 1, ".svg": 2}


def _build_one(path: Path, out_dir: Path, loader, cache: dict, pool, renderer) -> list[Artifact]:
    from .diagram import dot_source
    from .emit import render

    checked = compile_spec(path, loader, cache)
    dot = dot_source(checked)
    arts = [Artifact(out_dir / f"{path.stem}.py", render(checked).encode()),
            Artifact(out_dir / f"{path.stem}.dot", dot.encode())]
    if pool is not None:
        arts.append(Artifact(out_dir / f"{path.stem}.svg", pool.submit(renderer, dot, "svg")))
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
