"""Build cache: a spec's generated files, reused while nothing they come from has changed.

An entry is keyed by attngen itself (the bytes of its code and templates), the SVG
renderer, the options, where the spec lies and how it is shown, and it records the bytes
hash of every spec file the build read for it (the spec, its `use:` sub-specs, its
`extends:` bases). A hit needs all of them unchanged; then loading, checking and
rendering are skipped, and sympy is never imported. Anything else is a miss and a
normal build. A cache that cannot be read or written is ignored: it is only a cache.

Location: $ATTNGEN_CACHE_DIR, else $XDG_CACHE_HOME/attngen, else ~/.cache/attngen.
`attngen build --no-cache` or ATTNGEN_NO_CACHE=1 turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path

from .resources import templates_dir

FORMAT = 1  # bump when the entry layout changes
MAX_ENTRIES = 2000  # older entries are dropped beyond this


def cache_dir() -> Path | None:
    """Where entries live; None when caching is turned off."""
    if os.environ.get("ATTNGEN_NO_CACHE", "") not in ("", "0"):
        return None
    if os.environ.get("ATTNGEN_CACHE_DIR"):
        return Path(os.environ["ATTNGEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "attngen"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def tool_fingerprint() -> str:
    """attngen's own code and templates: any edit to them invalidates every entry."""
    h = hashlib.sha256(f"format {FORMAT}".encode())
    package = Path(__file__).resolve().parent
    for root in (package, templates_dir()):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".j2"):
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def renderer_fingerprint() -> str:
    """The SVG renderer and its version (different renderers draw different bytes)."""
    from importlib import metadata

    from . import render

    backend = render.backend_for("svg")
    if backend == "graphviz-pure":
        try:
            return f"graphviz-pure {metadata.version('graphviz-pure')}"
        except metadata.PackageNotFoundError:
            return "graphviz-pure ?"
    if backend is None:
        return "none"
    exe = render._find(backend)  # a system `dot`: its path and file identity
    stat = os.stat(exe) if exe else None
    return f"{backend} {exe} {stat.st_size if stat else 0} {stat.st_mtime_ns if stat else 0}"


def file_hash(path: Path) -> str | None:
    try:
        return _digest(Path(path).read_bytes())
    except OSError:
        return None


class BuildCache:
    def __init__(self, folder: Path, options: str):
        self.folder = folder
        self.options = options  # renderer, svg on/off, spec refs on/off: part of every key

    @classmethod
    def open(cls, *, svg: bool, spec_refs: bool = False) -> BuildCache | None:
        folder = cache_dir()
        if folder is None:
            return None
        return cls(folder, f"{tool_fingerprint()} svg={svg} spec_refs={spec_refs} "
                   f"{renderer_fingerprint() if svg else ''}")

    def key(self, path: Path, display: str) -> str:
        return _digest(f"{self.options}\n{Path(path).resolve()}\n{display}".encode())

    def get(self, key: str) -> dict[str, bytes] | None:
        """suffix -> file bytes of a valid entry, or None."""
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            if any(file_hash(Path(p)) != h for p, h in entry["deps"].items()):
                return None
            return {suffix: text.encode("utf-8") for suffix, text in entry["files"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, deps: dict[str, str], files: dict[str, bytes]) -> None:
        try:
            entry = {"deps": deps,
                     "files": {s: data.decode("utf-8") for s, data in files.items()}}
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".entry.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, self.folder / f"{key}.json")
            self._prune()
        except (OSError, UnicodeDecodeError):
            return

    def _prune(self) -> None:
        entries = list(self.folder.glob("*.json"))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for old in entries[: len(entries) - MAX_ENTRIES]:
            old.unlink(missing_ok=True)
