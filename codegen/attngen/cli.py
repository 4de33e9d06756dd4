"""The `attngen` command line.

Errors print compiler style and exit 1; usage errors exit 2; never a traceback. Warnings
(lint.py) print the same way and exit 0, or with `-W error` count as errors.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import shlex
import shutil
import sys
import traceback
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

from . import counts, docs, ops, params, render
from .build import (
    Artifact,
    artifacts_each,
    builtin_spec,
    collect_specs,
    compile_spec,
    folder_problem,
    stale,
    unique_files,
    write_atomic,
)
from .cli_args import DIAGRAM_FORMATS, EXIT_USAGE, command_parser
from .describe import label
from .errors import (
    Collector,
    Diagnostic,
    InternalError,
    Loc,
    SpecError,
    did_you_mean,
    one_line,
    report,
    visible,
)
from .loader import Loader, real_path
from .names import check_class_name
from .render import RenderError
from .resources import specs_dir
from .scaffold import class_name, extends_ref, skeleton

if TYPE_CHECKING:  # the checker's results import sympy; the CLI starts without it
    from .checker import CheckCache

EXIT_OK, EXIT_ERRORS = 0, 1
EXIT_BUG, EXIT_INTERRUPTED = 70, 130  # sysexits' EX_SOFTWARE; a shell's code for Ctrl-C
SERVE_EXTRA = "pip install 'attngen[serve]'"


class _Visible:
    """A text stream that writes what it is given as `errors.visible` shows it: no title,
    doc, name or file name a command prints can reach the terminal as a control sequence
    (clear the screen, write the clipboard, overprint a line). Binary output (`.buffer`,
    diagrams to stdout) and everything else pass through to the stream."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(visible(text))
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


GC_THRESHOLDS = (200_000, 30, 30)  # see _main


def main(argv: list[str] | None = None) -> int:
    """Run one command; everything it prints to stdout and stderr passes `_Visible`."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Visible(sys.stdout), _Visible(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: list[str] | None) -> int:
    # A command creates a few hundred thousand long-lived objects (sympy, networkx, the
    # specs) and little cyclic garbage; with the default thresholds the collector rescans
    # them over and over, about a tenth of a cold build. Collect far less often (as mypy
    # does); the process is short-lived.
    gc.set_threshold(*GC_THRESHOLDS)
    argv = sys.argv[1:] if argv is None else argv
    parser = command_parser()
    if argv and not argv[0].startswith("-") and argv[0] not in _COMMANDS:  # a typo: suggest
        parser.error(f"unknown command '{argv[0]}'{did_you_mean(argv[0], _COMMANDS)} "
                     f"(commands: {', '.join(_COMMANDS)})")
    args = parser.parse_args(argv)
    for folder in getattr(args, "include", ()):
        if not Path(folder).is_dir():
            parser.error(f"-I {folder}: no such folder")
    try:
        return _COMMANDS[args.command](args)
    except SpecError as exc:
        for line in report(exc.diagnostics):
            print(line, file=sys.stderr)
        return EXIT_ERRORS
    except RenderError as exc:
        print(f"attngen: error: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    except InternalError as exc:  # its text is made one line, every control escaped
        print(f"attngen: {exc}", file=sys.stderr)
        return EXIT_BUG
    except ops.PluginError as exc:  # a plugin that fails to load, an op name taken twice
        print(f"attngen: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERRORS
    except KeyboardInterrupt:  # writes are atomic: nothing is left half-written
        print("attngen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # no permission, a file system error
        where = f"cannot access {exc.filename}: " if exc.filename else ""
        print(f"attngen: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERRORS


def cmd_build(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        return _usage("--jobs must be at least 1")
    paths = unique_files(collect_specs(args.paths))
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        print(f"attngen: error: -o {args.out} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    if _cannot_write_in(out_dir):
        return EXIT_ERRORS
    want_svg = not args.no_svg
    if want_svg and not render.available_backends():
        print("attngen: note: no Graphviz renderer, writing .py and .dot only; "
              + render.INSTALL_HINT, file=sys.stderr)
    if args.watch:
        return _watch(args, out_dir, want_svg and bool(render.available_backends()))
    arts, failed, warned = artifacts_each(paths, out_dir,
                                          svg=want_svg and bool(render.available_backends()),
                                          use_cache=not args.no_cache,
                                          spec_refs=args.spec_refs, fuse=not args.no_fuse,
                                          include=args.include, jobs=args.jobs)
    if args.werror:  # a spec that warns fails: its files are not written
        failed = {p: failed.get(p) or SpecError(_as_errors(warned[p])) for p in paths
                  if p in failed or p in warned}
        arts = [art for art in arts if art.source not in failed]
    else:
        _print_warnings(w for found in warned.values() for w in found)
    if failed and (args.all_or_nothing or len(paths) == 1):
        issues = Collector()
        for problem in failed.values():
            issues.add(problem)
        issues.raise_if_any()
    if args.check:
        code = _report_stale(arts, out_dir, "generated", f"attngen build {' '.join(args.paths)}")
    else:
        written = write_atomic(arts, out_dir)
        print(f"built {len(paths) - len(failed)} spec(s): {len(written)} file(s) written, "
              f"{len(arts) - len(written)} unchanged, in {out_dir}/")
        code = EXIT_OK
    if not failed:
        return code
    for problem in failed.values():  # each failing spec's diagnostics, then one summary line
        for line in report(problem.diagnostics):
            print(line, file=sys.stderr)
    names = ", ".join(str(p) for p in failed)
    did = "checked" if args.check else "built"
    print(f"attngen: {did} {len(paths) - len(failed)} of {len(paths)} specs; {len(failed)} "
          f"failed: {names}", file=sys.stderr)
    return EXIT_ERRORS


def _watch(args, out_dir: Path, svg: bool) -> int:
    if args.check:
        return _usage("--watch writes files; it cannot be used with --check")
    watch = _load_watch()
    if watch is None:
        return EXIT_ERRORS
    return watch.watch_build(args.paths, out_dir, svg=svg, spec_refs=args.spec_refs,
                             fuse=not args.no_fuse, include=args.include,
                             use_cache=not args.no_cache)


def _load_watch() -> ModuleType | None:
    """The `watch` module behind every `--watch`, or None after saying which extra it needs."""
    try:
        from . import watch
    except ImportError:
        print(f"attngen: error: --watch needs watchfiles: {SERVE_EXTRA}", file=sys.stderr)
        return None
    return watch


def _cannot_write_in(folder: Path) -> bool:
    """Print why files cannot be written in `folder` (a file in its path), if so."""
    problem = folder_problem(folder)
    if problem is not None:
        print(f"attngen: error: cannot access {folder}: {problem[1]}", file=sys.stderr)
    return problem is not None


def _report_stale(arts, out_dir: Path, what: str, rerun: str) -> int:
    """`--check`: list the files that would change; exit 1 if any."""
    changed = stale(arts, out_dir)
    for path in changed:
        print(f"stale: {path}")
    if changed:
        print(f"attngen: {len(changed)} {what} file(s) out of date; run `{rerun}`",
              file=sys.stderr)
        return EXIT_ERRORS
    print(f"up to date: {len(arts)} files")
    return EXIT_OK


def cmd_check(args) -> int:
    from .lint import warnings_of

    loader, issues = Loader(include=args.include), Collector()
    cache: CheckCache = {}
    warned: list[Diagnostic] = []
    for path in collect_specs(args.paths):
        try:
            checked = compile_spec(path, loader, cache)
        except SpecError as exc:
            issues.add(exc)
            continue
        warned += warnings_of(checked)
        if not args.quiet:
            print(shape_table(checked))
    if args.werror and warned:
        issues.add(SpecError(_as_errors(warned)))
    elif not args.werror:
        _print_warnings(warned)
    issues.raise_if_any()
    return EXIT_OK


def _print_warnings(found: Iterable[Diagnostic]) -> None:
    """Each warning once (specs share sub-specs and bases), in file order, then a count."""
    unique = sorted(dict.fromkeys(found), key=lambda w: w.loc)
    for w in unique:
        print(w.format(), file=sys.stderr)
    if unique:
        print(f"attngen: {len(unique)} warning{'s' if len(unique) != 1 else ''}",
              file=sys.stderr)


def _as_errors(warnings: Iterable[Diagnostic]) -> list[Diagnostic]:
    """`-W error`: the warnings as errors, with their codes and text."""
    return [replace(w, severity="error") for w in dict.fromkeys(warnings)]


def shape_table(checked) -> str:
    from .shown_lets import lets_shown

    with lets_shown(checked):
        return _shape_table(checked)


def _shape_table(checked) -> str:
    spec = checked.spec
    rows = [(name, "input", checked.shape_text(name, dtype=True)) for name in spec.sources()]
    for name in checked.order:
        if name in checked.nodes:
            node = spec.nodes[name]
            rows.append((name, label(node), ", ".join(checked.shape_text(o, dtype=True)
                                                      for o in node.out or [name])))
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    n_configs = len(checked.configs)
    lines = [f"{spec.file}: {spec.name} ok ({len(spec.nodes)} nodes, "
             + f"{n_configs} configuration{'s' if n_configs != 1 else ''})"]
    lines += [f"  {a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def cmd_show(args) -> int:
    from .lanes import draw

    if args.width is not None and args.width < 1:
        return _usage("--width must be at least 1")
    if args.watch:
        paths = collect_specs([args.spec])
        if len(paths) != 1:
            return _usage(f"{args.spec} holds {len(paths)} specs; show --watch draws one")
        watch = _load_watch()
        if watch is None:
            return EXIT_ERRORS
        return watch.watch_show(paths[0], width=args.width, collapse=args.collapse,
                                include=args.include)
    width = args.width or shutil.get_terminal_size().columns
    loader = Loader(include=args.include)
    cache: CheckCache = {}
    for i, path in enumerate(collect_specs([args.spec])):  # a file, a folder, a built-in name
        print(("\n" if i else "") + "\n".join(draw(compile_spec(path, loader, cache), width,
                                                  args.collapse)))
    return EXIT_OK


def cmd_serve(args) -> int:
    if not 1 <= args.port <= 65535:
        return _usage("--port must be between 1 and 65535")
    library = Path("specs") if Path("specs").is_dir() else specs_dir()
    paths = args.paths or [str(d) for d in (library, library / "variants") if d.is_dir()]
    collect_specs(paths)  # a missing path is an error before the server starts
    try:
        from .serve import serve
    except ImportError:
        print(f"attngen: error: serve needs its extra: {SERVE_EXTRA}", file=sys.stderr)
        return EXIT_ERRORS
    return serve(paths, host=args.host, port=args.port, open_browser=args.open,
                 include=args.include)


def cmd_ops(args) -> int:
    """The op library, one section per source: attngen's built-in ops, then each plugin's."""
    by_source: dict[str, list[ops.Op]] = {}
    for op in sorted(ops.REGISTRY.values(), key=lambda o: (o.group, o.name.lower())):
        by_source.setdefault(op.source, []).append(op)
    sources = sorted(by_source, key=lambda s: (s != ops.BUILTIN, s.lower()))
    for i, source in enumerate(sources):
        n = len(by_source[source])
        what = ("built-in" if source == ops.BUILTIN else
                "imported by hand" if source.startswith("module ") else "plugin")
        print(("\n" if i else "") + f"# {source} ({what}, {n} op{'s' if n != 1 else ''})")
        for op in by_source[source]:
            sig = ", ".join(f"{a.name}: {a.type}" + ("" if a.required else f" = {a.default!r}")
                            for a in op.args)
            kind = "layer" if op.module else "function"
            print(f"{op.group:<10} {op.name}({sig})  [{kind}]  {op.summary}; {op.rule}; "
                  f"dtype {op.dtype.text}; layout {op.layout_text}")
    return EXIT_OK


def cmd_diagram(args) -> int:
    from .diagram import dot_source

    formats = DIAGRAM_FORMATS
    suffix = Path(args.out).suffix.lstrip(".").lower() if args.out else ""
    if suffix and suffix not in formats and not args.format:  # not SVG bytes in a .jpg
        return _usage(f"-o {args.out}: no '{suffix}' output; name a .svg, .png, .pdf or "
                      ".dot file, or choose one with --format")
    fmt = args.format or (suffix if suffix in formats else "svg")
    if args.out and suffix in formats and suffix != fmt:
        return _usage(f"--format {fmt} does not match -o {args.out}")
    if args.out and Path(args.out).is_dir():
        return _usage(f"-o {args.out} is a folder; name the output file")
    if not args.out and fmt in ("png", "pdf") and sys.stdout.isatty():
        return _usage(f"{fmt} is binary: name an output file with -o")
    paths = collect_specs([args.spec])
    if len(paths) != 1:
        return _usage(f"{args.spec} holds {len(paths)} specs; diagram draws one")
    [path] = paths
    out = Path(args.out) if args.out else None
    if out is not None and _cannot_write_in(out.parent):
        return EXIT_ERRORS
    loader = Loader(include=args.include)
    dot = dot_source(compile_spec(path, loader, {}), rankdir=args.rankdir,
                     collapse=args.collapse, legend=args.legend)
    data = dot.encode() if fmt == "dot" else render.render(dot, fmt)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    write_atomic([Artifact(out, data, path, tuple(loader.files_of(path)))], out.parent)
    print(f"wrote {args.out} ({fmt})")
    return EXIT_OK


def cmd_docs(args) -> int:
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        return _usage(f"-o {args.out} is not a folder")
    if _cannot_write_in(out_dir):
        return EXIT_ERRORS
    arts = docs.artifacts(collect_specs(args.paths), out_dir, args.include)
    if args.check:
        return _report_stale(arts, out_dir, "documentation",
                             f"attngen docs {' '.join(args.paths)} -o {args.out}")
    written = write_atomic(arts, out_dir)
    print(f"documented {len(arts) // 2 - 1} spec(s): {len(written)} file(s) written, "
          f"{len(arts) - len(written)} unchanged, in {out_dir}/")
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"attngen: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _one_spec(arg: str, command: str, include=()):
    """The checked spec of one file or built-in name (None: a usage error was printed)."""
    paths = collect_specs([arg])
    if len(paths) != 1:
        _usage(f"{arg} holds {len(paths)} specs; {command} takes one spec")
        return None
    return compile_spec(paths[0], Loader(include=include), {})


def cmd_params(args) -> int:
    checked = _one_spec(args.spec, "params", args.include)
    if checked is None:
        return EXIT_USAGE
    spec = checked.spec
    overrides = params.parse_sets(spec, args.sets)
    params.check_requires(spec, counts.param_values(spec, overrides))
    params.check_shapes(spec, overrides)
    if args.total:
        print(counts.total(spec, overrides))
    else:
        print(params.table(spec, overrides, show_all=args.all))
    return EXIT_OK


def cmd_diff(args) -> int:
    from .diff import diff_lines

    paths = collect_specs([args.old, args.new])
    if len(paths) != 2:
        return _usage("diff compares two spec files (not folders)")
    loader = Loader(include=args.include)
    cache: CheckCache = {}
    old, new = (compile_spec(p, loader, cache) for p in paths)
    print("\n".join(diff_lines(old, new)))
    return EXIT_OK


def cmd_new(args) -> int:
    stem = args.name.removesuffix(".yaml")
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        return _usage(f"NAME '{args.name}' must be a plain file stem; choose the folder with -o")
    cls = class_name(stem)
    try:
        check_class_name(cls, Loc(args.name))
    except SpecError as exc:
        return _usage(f"NAME '{args.name}' gives no valid class name ('{cls}'): "
                      + exc.diagnostics[0].message)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        return _usage(f"-o {args.out} is not a folder")
    if _cannot_write_in(out_dir):
        return EXIT_ERRORS
    base_paths = collect_specs([args.base])
    if len(base_paths) != 1:
        return _usage(f"--from {args.base} holds {len(base_paths)} specs; name one")
    base_path = base_paths[0]
    loader = Loader(include=args.include)
    base = compile_spec(base_path, loader, {}).spec
    target = out_dir / f"{stem}.yaml"
    builtin = Path(args.base).stem if not Path(args.base).is_file() and builtin_spec(args.base) \
        else None
    ref = extends_ref(base_path, builtin, target, loader)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "x", encoding="utf-8") as fh:  # "x": never clobber
            fh.write(skeleton(stem, cls, ref, base))
    except FileExistsError:
        print(f"attngen: error: {target} already exists; not overwriting it (choose another "
              "NAME or -o DIR, or remove the file)", file=sys.stderr)
        return EXIT_ERRORS
    # a base outside the new file's folder tree is read only from a folder named with -I
    include = list(args.include)
    base_dir = real_path(base_path).parent
    if not any(real_path(base_path).is_relative_to(root) for root in loader.roots(target)):
        include.append(str(base_dir))
    try:
        compile_spec(target, Loader(include=include), {})
    except SpecError:
        target.unlink()
        raise
    flags = "".join(f" -I {shlex.quote(str(d))}" for d in include)
    print(f"wrote {target}: {cls} extends {ref}; build it with "
          f"`attngen build{flags} {shlex.quote(str(target))}`")
    return EXIT_OK


def cmd_verify(args) -> int:
    if args.samples < 1:
        print("attngen: error: --samples must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        import torch  # noqa: F401  (only verify needs torch)
    except ImportError:
        print("attngen: error: `attngen verify` needs PyTorch (pip install torch)",
              file=sys.stderr)
        return EXIT_ERRORS
    from .kernel_check import check_kernels

    checks = [check_kernels]  # cheap (one forward): always
    if args.onnx:
        # onnxscript: torch.onnx's dynamo exporter needs it
        if any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "onnxscript")):
            print("attngen: error: `attngen verify --onnx` needs onnx, onnxscript and "
                  "onnxruntime (pip install 'attngen[integrations]')", file=sys.stderr)
            return EXIT_ERRORS
        from .onnx_check import check_onnx

        checks.append(check_onnx)
    if args.compile:
        from .compile_check import check_compile

        checks.append(check_compile)
    from .verify import main_verify

    problems = main_verify(args.paths, args.samples, not args.no_export, args.seed,
                           spec_refs=args.spec_refs, include=args.include, checks=checks)
    errors = [d for d in problems if d.severity == "error"]
    for d in errors:
        print(d.format(), file=sys.stderr)
    _print_warnings(d for d in problems if d.severity == "warning")  # W101: fail nothing
    if errors:
        print(f"attngen: {len(errors)} shape mismatch(es)", file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK


_COMMANDS = {"build": cmd_build, "check": cmd_check, "show": cmd_show, "ops": cmd_ops,
             "verify": cmd_verify, "diagram": cmd_diagram, "docs": cmd_docs,
             "params": cmd_params, "diff": cmd_diff, "new": cmd_new, "serve": cmd_serve}


def run() -> NoReturn:
    """The console entry point: main(), then exit without tearing the interpreter down.

    Freeing the objects sympy and networkx create took about 0.15 s of a cold build (a
    seventh) and serves no one: by the time main() returns, every file is written and
    closed and every worker joined. So flush the standard streams and leave at once (as
    mypy does). Only the command-line entry points do this; main() itself returns normally
    for callers in Python.
    """
    try:
        code = main()
    except SystemExit as exc:  # argparse usage errors and --help
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:  # before a command runs (its own are caught in _main)
        print("attngen: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001  (a bug of attngen's: say so, with what to report)
        traceback.print_exc()
        print("attngen: internal error: this is a bug in attngen, not in the spec; please "
              "report it with the spec and the traceback above", file=sys.stderr)
        code = EXIT_BUG
    for stream in (sys.stdout, sys.stderr):
        # a reader that left (broken pipe), a closed stream
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
