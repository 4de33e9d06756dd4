"""The warm rebuild behind `attngen serve` and `attngen build --watch`: a set of spec files
kept checked in one long-lived process, rebuilding only what a change of files affects.

A `Workspace` holds the spec files found under the paths it is given (folders give their
`*.yaml` files, as the CLI's; a file or a symlink whose real path lies outside every given
path is left out). `rebuild(changed)` checks again each spec that reads a changed file
(through `use:` and `extends:`: the loader records what each spec read), each new spec and
each that failed last time; the import of sympy and the op library are paid once, so a
rebuild takes tens of milliseconds. Each spec's `View` is what the web page shows: the
SVG, the generated source, the parameter table, the diff against its base for a variant,
and its errors and warnings (lint.py) as the CLI prints them, with the last good result
kept (marked stale) while the spec is broken.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import params, render
from .build import collect_specs, compile_spec
from .diagram import dot_source
from .diff import diff_lines
from .errors import Diagnostic, SpecError, visible
from .lanes import draw
from .loader import Loader, real_path
from .render import RenderError
from .resources import specs_dir


@dataclass
class Good:
    """A spec's outputs from its last successful build."""

    name: str
    title: str
    svg: str
    source: str
    params: str
    diff: str
    terminal: str
    lines: dict[str, int]  # node name -> its line in the spec file


@dataclass
class View:
    """One spec as the page shows it."""

    id: str  # the path as the CLI shows it: `specs/se.yaml`
    path: Path
    group: str  # the folder it was found in, as given
    version: int = 0
    good: Good | None = None
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # the last good build's, as errors
    reads: frozenset[Path] = frozenset()  # every file the last build read (its own included)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        """JSON for the page: text only (the page shows every field as text)."""
        good = self.good
        return {"id": self.id, "group": self.group, "version": self.version, "ok": self.ok,
                "stale": bool(self.errors) and good is not None,
                "name": good.name if good else Path(self.id).stem,
                "title": good.title if good else "", "errors": self.errors,
                "warnings": self.warnings,
                "svg": good.svg if good else "", "source": good.source if good else "",
                "params": good.params if good else "", "diff": good.diff if good else "",
                "terminal": good.terminal if good else "",
                "lines": good.lines if good else {}, "text": _read_text(self.path)}


def _read_text(path: Path) -> str:
    try:
        return visible(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""


class Workspace:
    """The spec files under `paths`, each with its latest View; thread-safe."""

    def __init__(self, paths: Iterable[str], include: Iterable[str] = (), *,
                 svg: bool = True) -> None:
        self.paths = list(paths)
        self.include = list(include)
        self.roots = [real_path(Path(p)) for p in self.paths]
        self.svg = svg and bool(render.available_backends())
        self.views: dict[str, View] = {}
        self.lock = threading.Lock()

    def allowed(self, path: Path) -> bool:
        """Whether a file's real path lies in one of the given paths (or is one of them)."""
        real = real_path(path)
        return any(real == root or (root.is_dir() and real.is_relative_to(root))
                   for root in self.roots)

    def scan(self) -> dict[str, tuple[Path, str]]:
        """id -> (path, group) of every spec file under the paths now."""
        found: dict[str, tuple[Path, str]] = {}
        display = Loader().display
        for given in self.paths:
            try:
                paths = collect_specs([given])
            except SpecError:
                continue  # an empty folder: nothing to show
            for path in paths:
                if path.is_file() and self.allowed(path):
                    found.setdefault(display(path), (path, given.rstrip("/") or given))
        return found

    def watched(self) -> list[Path]:
        """The folders to watch: each given folder, a given file's folder, each -I folder."""
        out = {r if r.is_dir() else r.parent for r in self.roots}
        out |= {real_path(Path(d)) for d in self.include}
        return sorted(out)

    def rebuild(self, changed: Iterable[Path] | None = None) -> list[str]:
        """Rebuild the specs `changed` files affect (None: all); the ids of views that
        changed, new or removed."""
        changed_real = None if changed is None else {real_path(Path(p)) for p in changed}
        with self.lock:
            found = self.scan()
            touched = [i for i in self.views if i not in found]
            for gone in touched:
                del self.views[gone]
            todo = []
            for ident, (path, group) in found.items():
                view = self.views.get(ident)
                if view is None:
                    view = self.views[ident] = View(ident, path, group)
                    todo.append(view)
                elif changed_real is None or not view.ok or view.reads & changed_real:
                    todo.append(view)
            loader = Loader(include=self.include)  # fresh: files changed under the last one
            cache: dict = {}
            for view in todo:
                self._build(view, loader, cache)
                touched.append(view.id)
            return touched

    def _build(self, view: View, loader: Loader, cache: dict) -> None:
        view.version += 1
        try:
            checked = compile_spec(view.path, loader, cache)
            dot = dot_source(checked)
            svg = render.render(dot, "svg").decode() if self.svg else ""
        except SpecError as exc:
            view.errors = [self._error(d) for d in exc.diagnostics]
            view.reads = frozenset(loader.files_of(view.path)) | {real_path(view.path)}
            return
        except RenderError as exc:
            svg = f"cannot draw the diagram: {exc}"
        from .emit import render as emit_py
        from .lint import warnings_of

        spec = checked.spec
        view.warnings = [self._error(w) for w in warnings_of(checked)]
        view.reads = frozenset(loader.files_of(view.path)) | {real_path(view.path)}
        view.errors = []
        view.good = Good(spec.name, spec.title, svg, emit_py(checked), params.table(spec),
                         self._diff(checked, loader, cache),
                         "\n".join(draw(checked, 100)),
                         {n: node.loc.line for n, node in spec.nodes.items()
                          if node.loc.file == spec.file})

    def _diff(self, checked, loader: Loader, cache: dict) -> str:
        """A variant's diff against the spec it `extends:` ('' for others)."""
        spec = checked.spec
        if not spec.extends:
            return ""
        try:
            base_path = loader.resolve(spec.extends, spec.path, spec.loc)
            base = compile_spec(base_path, loader, cache)
        except SpecError:
            return ""
        return "\n".join(diff_lines(base, checked))

    def _error(self, d: Diagnostic) -> dict:
        """A diagnostic as the CLI prints it, with the line it points at when that line is
        in a file the workspace may show."""
        snippet = ""
        if d.loc.line:
            for candidate in (Path(d.loc.file), specs_dir() / d.loc.file.removeprefix("specs/")):
                try:
                    if candidate.is_file() and (self.allowed(candidate) or real_path(
                            candidate).is_relative_to(real_path(specs_dir()))):
                        lines = candidate.read_text(encoding="utf-8",
                                                    errors="replace").splitlines()
                        if d.loc.line <= len(lines):
                            snippet = visible(lines[d.loc.line - 1])
                        break
                except (OSError, ValueError):
                    continue
        return {"text": visible(d.format()), "code": str(d.code), "file": visible(d.loc.file),
                "line": d.loc.line, "col": d.loc.col, "snippet": snippet}

