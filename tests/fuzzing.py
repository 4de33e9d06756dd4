"""Shared helpers for the bad-input tests: run the CLI in-process and judge the result.

`run_cli(argv)` calls `attngen.cli.main` with stdout/stderr captured. Any exception
other than SystemExit escaping it is a crash (a test failure). `assert_outcome`
then demands one of two endings: exit 0 with a generated file that compiles and
looks sane, or exit 1 with nothing but located diagnostics on stderr.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from attngen.cli import main

# `file:line:col: error[E123]: message` (a spec error always has a line), its notes,
# and the closing count line.
DIAG = re.compile(r"^\S.*:\d+:\d+: error\[E\d{3}\]: \S.*$")
NOTE = re.compile(r"^  note: .*$")
SUMMARY = re.compile(r"^attngen: \d+ errors?$")
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


def assert_outcome(spec: Path, out_dir: Path) -> Result:
    """Build one spec: success with a sane generated file, or located errors and exit 1."""
    res, target = build_one(spec, out_dir)
    if res.code == 0:
        assert not res.err or all(line.startswith("attngen: note:")
                                  for line in res.err.splitlines()), res.err
        check_generated(target)
    else:
        assert_located_errors(res)
        assert not target.exists(), "a failed build wrote a file"
    return res
