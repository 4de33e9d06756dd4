"""Finding and loading spec files: path resolution, each file once, `use:` cycles, and
the files each spec reads (for the build cache)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import Loc, did_you_mean, error
from .model import Spec
from .parse import parse_spec
from .resources import specs_dir
from .variants import expand_extends
from .yamlload import LMap, load_file


class Loader:
    """Loads specs and the sub-specs they use, each file once, detecting `use:` cycles."""

    def __init__(self, builtin_dir: Path | None = None,
                 display_root: Path | None = None) -> None:
        self.builtin_dir = builtin_dir or specs_dir()
        self.display_root = display_root or Path.cwd()
        self.cache: dict[Path, Spec] = {}
        self.deps: dict[Path, set[Path]] = {}  # spec file -> files it reads directly
        # file -> SHA-256 of the bytes parsed, None for a file looked for and not found
        self.digests: dict[Path, str | None] = {}

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
        for root, prefix in ((self.builtin_dir, "specs/"), (self.display_root, "")):
            try:
                return prefix + path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                continue
        return str(path)

    def resolve(self, ref: str, base: Path, loc: Loc) -> Path:
        """`use:`/`extends:` targets: relative to the spec's folder, then the built-in library.

        A `use:` inherited through `extends:` carries `origin`, the file that wrote it."""
        base = getattr(ref, "origin", None) or base
        ref = str(ref)
        names = [ref] if ref.endswith((".yaml", ".yml")) else [ref + ".yaml", ref]
        reader = Path(base).resolve()
        for folder in (base.parent, self.builtin_dir):
            for name in names:
                candidate = (folder / name)
                # a dependency either way: a file created here later changes the answer
                try:  # a name no file system accepts (too long, NUL) is simply not found
                    self.depends(reader, candidate.resolve())
                    if candidate.is_file():
                        return candidate.resolve()
                    self.digests.setdefault(candidate.resolve(), None)
                except (OSError, ValueError):
                    continue
        known = sorted(p.stem for p in self.builtin_dir.glob("*.yaml"))
        raise error(loc, "E500", f"cannot find spec '{ref}' (looked next to {self.display(base)} "
                    "and in the built-in library)" + did_you_mean(Path(ref).stem, known))

    def load(self, path: Path, stack: tuple[tuple[Path, Loc], ...] = ()) -> Spec:
        path = path.resolve() if path.exists() else path
        if path in self.cache:
            return self.cache[path]
        display = self.display(path)
        raw = load_file(path, display, self.digests)
        if isinstance(raw, LMap) and "extends" in raw:
            raw = expand_extends(self, raw, path, stack)
        spec = parse_spec(raw, path, display, self, stack + ((path, raw.loc),))
        self.cache[path] = spec
        return spec

    def load_child(self, ref: str, parent: Path, loc: Loc,
                   stack: tuple[tuple[Path, Loc], ...]) -> Spec:
        path = self.resolve(ref, parent, loc)
        self.depends(parent, path)
        chain = [p for p, _ in stack]
        if path in chain:
            names = [self.display(p) for p in chain[chain.index(path):]]
            origin = getattr(ref, "origin", None)  # a `use:` inherited through `extends:`
            if origin is not None and Path(origin).resolve() != chain[-1]:
                names.append(self.display(Path(origin)))
            names.append(self.display(path))
            raise error(loc, "E501", "cycle through `use:`/`extends:`: " + " -> ".join(names))
        return self.load(path, stack)


def load(path: str | os.PathLike[str], loader: Loader | None = None) -> Spec:
    """Load one spec file (and its sub-specs)."""
    loader = loader or Loader()
    path = Path(path)
    if not path.exists():
        raise error(Loc(str(path)), "E500", "no such file")
    return loader.load(path)
