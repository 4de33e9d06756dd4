"""Finding and loading spec files: path resolution, each file once, `use:` cycles, and
the files each spec reads (for the build cache).

`use:` and `extends:` resolve as a compiler resolves includes: next to the spec that
names them, then in the built-in library, and only to files inside the allowed folders:
the folder of the spec being built (the one given on the command line or to the API)
and everything below it, the built-in library, and the folders named with `-I DIR`
(`include=`). Symlinks are followed first, then the real path is checked. A target
anywhere else is refused (E503) without being opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import (
    FILE_ERROR,
    INCLUDE_CYCLE,
    OUTSIDE_ROOTS,
    OVER_BUDGET,
    Loc,
    SpecError,
    did_you_mean,
    error,
)
from .model import Spec
from .parse import parse_spec
from .resources import specs_dir
from .variants import expand_extends
from .yamlload import LMap, load_file

# `use:` nesting: a spec, its sub-specs, theirs ... at most this many levels below the
# spec being built (every stage walks the tree recursively; the library needs 3)
MAX_USE_DEPTH = 16


def real_path(path: Path) -> Path:
    """The absolute path with every symlink followed; a symlink loop or a missing file is
    left as it is (it is then simply not a file)."""
    return Path(os.path.realpath(path))


class Loader:
    """Loads specs and the sub-specs they use, each file once, detecting `use:` cycles."""

    def __init__(self, builtin_dir: Path | None = None, display_root: Path | None = None,
                 include: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.builtin_dir = builtin_dir or specs_dir()
        self.display_root = display_root or Path.cwd()
        self.include = tuple(real_path(Path(d)) for d in include)  # `-I DIR`, in order
        # (spec file, folder of the spec being built) -> Spec: what a file may `use:`
        # depends on the spec being built, so one file may load under several roots
        self.cache: dict[tuple[Path, Path], Spec] = {}
        self.failed: dict[tuple[Path, Path], SpecError] = {}  # the same key, a load that failed
        self.deps: dict[Path, set[Path]] = {}  # spec file -> files it reads directly
        # file -> SHA-256 of the bytes parsed, None for a file looked for and not found
        self.digests: dict[Path, str | None] = {}
        # path -> real_path(path), each asked once: a Loader serves one build
        self._real: dict[Path, Path] = {}

    def real(self, path: Path) -> Path:
        """real_path(path), found once for this Loader's build."""
        if path not in self._real:
            self._real[path] = real_path(path)
        return self._real[path]

    def depends(self, path: Path, on: Path) -> None:
        self.deps.setdefault(Path(path), set()).add(Path(on))

    def files_of(self, path: Path) -> list[Path]:
        """The spec file and every file it reads, through `use:` and `extends:`, sorted."""
        path = path.resolve() if path.exists() else path
        seen, todo = {path}, [path]
        while todo:
            for dep in self.deps.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return sorted(seen)

    def display(self, path: Path) -> str:
        """The path as shown in errors and generated headers: `specs/NAME.yaml` for a
        built-in spec, else relative to the working folder, else as given."""
        # the built-in folder first: an installed attngen's specs may lie under the working
        # folder (a venv in a checkout) and must still read `specs/se.yaml`
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            resolved = path.absolute()
        for root, prefix in ((self.builtin_dir, "specs/"), (self.display_root, "")):
            try:
                return prefix + resolved.relative_to(self.real(root)).as_posix()
            except ValueError:
                continue
        return str(path)

    def roots(self, top: Path) -> tuple[Path, ...]:
        """The folders whose files a spec built from `top` may read (see the module doc)."""
        return (self.real(top).parent, self.real(self.builtin_dir), *self.include)

    def resolve(self, ref: str, base: Path, loc: Loc,
                stack: tuple[tuple[Path, Loc], ...] = ()) -> Path:
        """`use:`/`extends:` targets: relative to the spec's folder, then the built-in library.

        A `use:` inherited through `extends:` carries `origin`, the file that wrote it.
        `stack` holds the specs being loaded above, the spec being built first."""
        top = stack[0][0] if stack else base
        base = getattr(ref, "origin", None) or base
        ref = str(ref)
        names = [ref] if ref.endswith((".yaml", ".yml")) else [ref + ".yaml", ref]
        reader = Path(base).resolve()
        roots = self.roots(Path(top))
        outside = None  # the first candidate that lies outside the allowed folders
        broken = None  # the first symlink that leads to no file (a loop, a missing target)
        for folder in (base.parent, self.builtin_dir):
            for name in names:
                try:  # a name no file system accepts (too long, NUL) is simply not found
                    candidate = self.real(folder / name)
                    if not any(candidate.is_relative_to(root) for root in roots):
                        outside = outside or (folder / name, candidate)
                        continue  # never opened, not even hashed for the cache
                    # a dependency either way: a file created here later changes the answer
                    self.depends(reader, candidate)
                    if candidate.is_file():
                        return candidate
                    self.digests.setdefault(candidate, None)  # looked for, not found
                    if broken is None and (folder / name).is_symlink():
                        broken = folder / name
                except (OSError, ValueError):
                    continue
        if outside is not None:
            written, real = outside
            link = real != Path(os.path.abspath(written))
            raise error(
                loc,
                OUTSIDE_ROOTS,
                f"'{ref}' lies outside the folders specs are read from",
                f"it is a symlink to {real}" if link else "",
                "specs are read from the folder of the spec being built and below, "
                "the built-in library, and folders named with -I DIR",
            )
        known = sorted(p.stem for p in self.builtin_dir.glob("*.yaml"))
        raise error(
            loc,
            FILE_ERROR,
            f"cannot find spec '{ref}' (looked next to {self.display(base)} "
            "and in the built-in library)" + did_you_mean(Path(ref).stem, known),
            f"{self.display(broken)} is a symlink to no file (a loop or a missing target)"
            if broken
            else "",
        )

    def load(self, path: Path, stack: tuple[tuple[Path, Loc], ...] = ()) -> Spec:
        path = path.resolve() if path.exists() else path
        top = stack[0][0] if stack else path
        key = (path, self.real(top).parent)
        if key in self.cache:
            return self.cache[key]
        if key in self.failed:  # read once: a diamond of `use:` reaches a file many times
            raise self.failed[key]
        display = self.display(path)
        try:
            raw = load_file(path, display, self.digests)
            if isinstance(raw, LMap) and "extends" in raw:
                raw = expand_extends(self, raw, path, stack)
            spec = parse_spec(raw, path, display, self, stack + ((path, raw.loc),))
        except SpecError as exc:
            self.failed[key] = exc
            raise
        self.cache[key] = spec
        return spec

    def load_child(self, ref: str, parent: Path, loc: Loc,
                   stack: tuple[tuple[Path, Loc], ...]) -> Spec:
        path = self.resolve(ref, parent, loc, stack)
        self.depends(parent, path)
        chain = [p for p, _ in stack]
        if path in chain:
            names = [self.display(p) for p in chain[chain.index(path):]]
            origin = getattr(ref, "origin", None)  # a `use:` inherited through `extends:`
            if origin is not None and Path(origin).resolve() != chain[-1]:
                names.append(self.display(Path(origin)))
            names.append(self.display(path))
            raise error(
                loc, INCLUDE_CYCLE, "cycle through `use:`/`extends:`: " + " -> ".join(names)
            )
        if len(stack) > MAX_USE_DEPTH:
            raise error(
                loc,
                OVER_BUDGET,
                f"`use:` nested deeper than {MAX_USE_DEPTH} levels below "
                f"{self.display(chain[0])} (the build budget for sub-spec depth)",
                "a deeper chain of sub-specs is refused; flatten some levels",
            )
        return self.load(path, stack)


def load(path: str | os.PathLike[str], loader: Loader | None = None) -> Spec:
    """Load one spec file (and its sub-specs)."""
    loader = loader or Loader()
    path = Path(path)
    if not path.exists():
        raise error(Loc(str(path)), FILE_ERROR, "no such file")
    return loader.load(path)
