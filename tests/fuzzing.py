"""Shared helpers for the bad-input tests: run the CLI in-process and judge the result.

`run_cli(argv)` calls `attngen.cli.main` with stdout/stderr captured. Any exception
other than SystemExit escaping it is a crash (a test failure). `assert_outcome`
then demands one of two endings: exit 0 with a generated file that compiles and
looks sane, or exit 1 with nothing but located diagnostics on stderr.

`run_limited(argvs)` runs commands in a child process under a memory cap and a time
limit, for inputs that could hang or eat the machine; `load_generated` executes a
generated file for the tests that run the module; `assert_shown_not_sent` and
`outside_code` judge what reaches a terminal and a Markdown page.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import re
import resource
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import attngen
import yaml
from attngen.cli import main

# `file:line:col: error[E123]: message` (a spec error always has a line), its notes,
# and the closing count line.
DIAG = re.compile(r"^\S.*:\d+:\d+: error\[E\d{3}\]: \S.*$")
NOTE = re.compile(r"^  note: .*$")
# the count line (naming the files), the line counting errors past the cap, or a build's
# line naming the specs that failed
SUMMARY = re.compile(r"^attngen: (\d+ errors?( in |: \d+ in ).+|\.\.\. and \d+ more errors? "
                     r"\(not shown\)|(built|checked) \d+ of \d+ specs; \d+ failed: .+)$")
# What generated modules may import.
ALLOWED_IMPORTS = {"torch", "torch.nn", "torch.nn.functional", "math", "__future__"}


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(argv: list[str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def assert_located_errors(res: Result, *, located: bool = True) -> None:
    """Exit 1 and every stderr line a diagnostic, a note, or the count line."""
    assert res.code == 1, f"exit {res.code}, expected 1\n{res.err}"
    lines = res.err.splitlines()
    assert lines, "exit 1 without any message"
    diag = DIAG if located else re.compile(r"^\S.*: error\[E\d{3}\]: \S.*$")
    assert diag.match(lines[0]), f"first line is not a located error: {lines[0]!r}"
    for line in lines:
        assert diag.match(line) or NOTE.match(line) or SUMMARY.match(line), \
            f"stray stderr line {line!r} in:\n{res.err}"
    assert "Traceback" not in res.err


def check_generated(path: Path) -> ast.Module:
    """The generated file compiles, imports only torch (and math), defines a module class."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    compile(tree, str(path), "exec")
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes, f"{path}: no class"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS, ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS, ast.dump(node)
        elif isinstance(node, ast.Name):  # repr() of an infinite or NaN float: no such name
            assert node.id not in ("inf", "nan"), f"{path}:{node.lineno}: bare {node.id}"
    for cls in classes:
        methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
        assert "forward" in methods and "__init__" in methods, f"{cls.name}: {methods}"
    shadowed = scope_problems(tree)
    assert not shadowed, f"{path}: " + "; ".join(shadowed)
    return tree


def _bound(node: ast.AST) -> list[str]:
    """Names an assignment or loop target binds."""
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def scope_problems(tree: ast.Module) -> list[str]:
    """Where a name bound by the generated code hides another binding (an oracle that
    knows nothing of the spec: a silently wrong module shows as a scope collision).

    - every module-level name (class, alias, helper, import) is bound once;
    - no method binds a module-level name (a param `Block` hides the class `Block`);
    - no comprehension's variable is also bound otherwise in its method (`B, _, item =
      x.shape`, then `[item.view(B, 4 * item) for item in xs]` reads the wrong `item`).
    """
    problems, module = [], {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.ClassDef, ast.FunctionDef)):
            names = [stmt.name]
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in stmt.names]
        elif isinstance(stmt, ast.Assign):
            names = [n for t in stmt.targets for n in _bound(t)]
        else:
            continue
        for name in names:
            if name in module and not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                problems.append(f"module-level '{name}' bound at lines {module[name]} and "
                                f"{stmt.lineno}")
            module.setdefault(name, stmt.lineno)
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            plain, comprehended = set(), set()
            plain.update(a.arg for a in method.args.args)
            for node in ast.walk(method):
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    plain.update(n for t in targets for n in _bound(t))
                elif isinstance(node, ast.For):
                    plain.update(_bound(node.target))
                elif isinstance(node, ast.comprehension):
                    comprehended.update(_bound(node.target))
            where = f"{cls.name}.{method.name}"
            for name in sorted((plain | comprehended) & set(module)):
                problems.append(f"{where} binds '{name}', a module-level name")
            for name in sorted(plain & comprehended):
                problems.append(f"{where}: comprehension variable '{name}' is also bound "
                                "outside the comprehension")
    return problems


def build_one(spec: Path, out_dir: Path) -> tuple[Result, Path]:
    """`attngen build --no-svg SPEC -o OUT` in-process; returns the result and the .py path."""
    target = out_dir / f"{spec.stem}.py"
    target.unlink(missing_ok=True)
    res = run_cli(["build", "--no-svg", str(spec), "-o", str(out_dir)])
    return res, target


def _warning_line(line: str) -> bool:
    """A line of a warning a successful build may print (W100): the located warning, its
    notes, the count."""
    return (re.search(r":\d+:\d+: warning\[W\d+\]: ", line) is not None
            or line.startswith("  note: ")
            or re.fullmatch(r"attngen: \d+ warnings?", line) is not None)


def assert_outcome(spec: Path, out_dir: Path) -> Result:
    """Build one spec: success with a sane generated file, or located errors and exit 1."""
    res, target = build_one(spec, out_dir)
    if res.code == 0:
        assert all(line.startswith("attngen: note:") or _warning_line(line)
                   for line in res.err.splitlines()), res.err
        check_generated(target)
    else:
        assert_located_errors(res)
        assert not target.exists(), "a failed build wrote a file"
    return res


def load_generated(path: Path) -> types.ModuleType:
    """Import a generated file as a fresh module (not entered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- a child process under limits ----------------------------------------------------------
# The child runs each argv through the CLI in-process (one interpreter start for several
# commands) and prints one JSON object: every command's exit status and output, how often
# it opened each .yaml file, and the peak resident memory of the child and what it started.
_CHILD = """
import builtins, collections, contextlib, io, json, os, resource, sys, traceback
from attngen.cli import main

opened = collections.Counter()


def counted(open_):
    def run(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file).endswith(".yaml"):
            opened[os.fspath(file)] += 1
        return open_(file, *args, **kwargs)
    return run


os.open, builtins.open, io.open = counted(os.open), counted(builtins.open), counted(io.open)
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    opened.clear()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = -1
    results.append({"argv": argv, "code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "opened": dict(opened)})
peak = max(resource.getrusage(who).ru_maxrss
           for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
json.dump({"results": results, "peak_kib": peak}, sys.__stdout__)
"""


@dataclass
class Limited:
    results: list[Result]  # one per command, in order
    opened: list[dict[str, int]]  # per command: .yaml file -> how often it was opened
    peak_mib: float  # the child's peak resident memory
    seconds: float  # the child's wall time


class LimitExceeded(AssertionError):
    """The child ran past its time limit or died (killed, or a crash outside the CLI)."""


def run_limited(argvs: list[list], cwd: Path, *, timeout: float, memory_mib: int,
                env: dict | None = None) -> Limited:
    """Run commands in a child process with at most `memory_mib` MiB of address space and
    `timeout` seconds of wall time (then it is killed)."""
    def limit():
        cap = memory_mib << 20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    argvs = [[str(a) for a in argv] for argv in argvs]
    code = Path(attngen.__file__).resolve().parent.parent  # the attngen this test runs
    child_env = {**os.environ, "PYTHONPATH": str(code), **(env or {})}
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(argvs)], cwd=cwd,
                              env=child_env, capture_output=True, timeout=timeout,
                              preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        raise LimitExceeded(f"{argvs}: did not finish within {timeout} s") from None
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise LimitExceeded(f"{argvs}: the child ended with status {proc.returncode} "
                            f"(memory cap {memory_mib} MiB):\n"
                            f"{proc.stderr.decode(errors='replace')[-3000:]}")
    report = json.loads(proc.stdout)
    results = [Result(r["code"], r["out"], r["err"]) for r in report["results"]]
    opened = [r["opened"] for r in report["results"]]
    return Limited(results, opened, report["peak_kib"] / 1024, seconds)


# -- what reaches a reader -----------------------------------------------------------------
# Characters that must never reach a terminal raw: C0 (but newline), DEL, C1, surrogates,
# noncharacters and the bidirectional overrides.
NOT_SHOWN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e]")


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's would write emoji as surrogate pairs)."""
    return yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1 << 20).strip()


def assert_shown_not_sent(text: str, where: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in NOT_SHOWN.findall(text)})
    assert not bad, f"{where}: {bad} reached the reader raw:\n{text!r}"


def outside_code(md: str) -> str:
    """A Markdown page without its code spans (shown verbatim by every renderer). A
    backtick escaped by a backslash opens none (CommonMark); one inside a span may be."""
    return re.sub(r"(?<!\\)((?:\\\\)*)(`+)(?!`).*?(?<!`)\2(?!`)", r"\1", md)


def link_targets(md: str) -> list[str]:
    """A Markdown page's link and image targets: `](...)` after a `]` no backslash escapes."""
    return re.findall(r"(?<!\\)(?:\\\\)*\]\(([^)]*)\)", outside_code(md))
