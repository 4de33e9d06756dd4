"""What `build`, `docs` and `diagram` may write, and how: refused names and targets, never
a byte outside the output folder, special files never read, file modes, leftovers of killed
writes, write failures named by their target, every spec's problems reported together."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
from attngen import build, docs, files
from attngen.errors import SpecError
from attngen.render import RenderError
from conftest import REPO_ROOT
from fuzzing import assert_located_errors, run_cli

SE = REPO_ROOT / "specs/se.yaml"
SE_TEXT = SE.read_text()
CODE = str(REPO_ROOT / "codegen")


def _copy(folder, name, text=SE_TEXT):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _cli_subprocess(argv, cwd, timeout=120):
    """The CLI in a child process with 2 GiB of address space at most and a time limit: a
    read of /dev/zero or a FIFO fails it instead of eating the machine or hanging."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "PYTHONPATH": CODE}
    return subprocess.run([sys.executable, "-m", "attngen.cli", *map(str, argv)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit, check=False)


# -- item 8: names -------------------------------------------------------------------------
def test_two_specs_with_one_output_name_are_refused_naming_both(tmp_path):
    a, b = _copy(tmp_path / "a", "blk.yaml"), _copy(tmp_path / "b", "blk.yaml")
    out = tmp_path / "out"
    res = run_cli(["build", "--no-svg", a, b, "-o", out])
    assert_located_errors(res, located=False)
    assert str(a) in res.err and str(b) in res.err and "error[E106]" in res.err
    assert f"{out / 'blk.py'} would be written twice" in res.err
    assert not out.exists()


def test_outputs_differing_only_in_case_are_refused(tmp_path):
    a, b = _copy(tmp_path / "a", "Blk.yaml"), _copy(tmp_path / "b", "blk.yaml")
    res = run_cli(["build", "--no-svg", a, b, "-o", tmp_path / "out"])
    assert_located_errors(res, located=False)
    assert "would be written twice" in res.err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("stem", ["torch", "typing", "os", "attngen", "collections"])
def test_a_stem_that_shadows_a_module_is_refused_with_a_rename_hint(tmp_path, stem):
    good = _copy(tmp_path / "specs", "eca.yaml", (REPO_ROOT / "specs/eca.yaml").read_text())
    bad = _copy(tmp_path / "specs", f"{stem}.yaml")
    out = tmp_path / "out"
    res = run_cli(["build", "--no-svg", "--all-or-nothing", good, bad, "-o", out])
    assert_located_errors(res, located=False)
    assert res.err.startswith(f"{bad}: error[E104]: the generated {stem}.py would shadow")
    assert f"rename the spec (e.g. {stem}_block.yaml)" in res.err
    assert not out.exists()  # the good spec's files are not written either
    res = run_cli(["build", "--no-svg", good, bad, "-o", out])  # only the bad one fails
    assert_located_errors(res, located=False)
    assert res.err.startswith(f"{bad}: error[E104]: the generated {stem}.py would shadow")
    assert sorted(p.name for p in out.iterdir()) == ["eca.dot", "eca.py"]


def test_a_spec_built_over_itself_is_refused(tmp_path):
    folder = tmp_path / "d"
    spec = _copy(folder, "model.dot")
    res = run_cli(["build", "--no-svg", spec, "-o", folder])
    assert_located_errors(res, located=False)
    assert f"{folder / 'model.dot'}: error[E106]: the output would overwrite {spec}" in res.err
    assert spec.read_text() == SE_TEXT and not (folder / "model.py").exists()


def test_a_sub_spec_is_not_overwritten_by_another_specs_output(tmp_path):
    # user.yaml reads helper.dot (`use: helper.dot`); helper.yaml's output is helper.dot
    folder = tmp_path / "d"
    sub = _copy(folder, "helper.dot")
    user = _copy(folder, "user.yaml", "name: User\ninputs:\n  x: [B, 512, H, W]\n"
                 "graph:\n  se: {use: helper.dot, in: x}\noutputs: se\n")
    other = _copy(folder, "helper.yaml", (REPO_ROOT / "specs/eca.yaml").read_text())
    res = run_cli(["build", "--no-svg", user, other, "-o", folder])
    assert_located_errors(res, located=False)
    assert f"the output would overwrite {sub}" in res.err
    assert sub.read_text() == SE_TEXT


def test_diagram_never_overwrites_its_spec(tmp_path):
    spec = _copy(tmp_path, "model.dot")
    res = run_cli(["diagram", spec, "-o", spec])
    assert_located_errors(res, located=False)
    assert "the output would overwrite" in res.err and spec.read_text() == SE_TEXT


@pytest.mark.parametrize("stem", ["README", "readme", "palette", "spec", "errors", "design",
                                  "ops", "integrations"])
def test_docs_refuse_a_spec_whose_page_takes_a_reserved_name(tmp_path, stem):
    specs, out = tmp_path / "specs", tmp_path / "docs"
    good = _copy(specs, "eca.yaml", (REPO_ROOT / "specs/eca.yaml").read_text())
    bad = _copy(specs, f"{stem}.yaml")
    res = run_cli(["docs", good, bad, "-o", out])
    assert_located_errors(res, located=False)
    assert res.err.startswith(f"{bad}: error[E106]: its docs would overwrite")
    assert not out.exists()


def test_reserved_docs_names_are_one_constant():
    assert {"readme.md", "img/palette.svg", "spec.md", "errors.md", "design.md", "ops.md",
            "integrations.md"} <= docs.RESERVED


# -- item 9: links and special files -------------------------------------------------------
def test_a_folder_link_inside_the_docs_tree_is_not_followed(tmp_path):
    out, elsewhere = tmp_path / "docs", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "img").symlink_to(elsewhere, target_is_directory=True)
    res = run_cli(["docs", SE, "-o", out])
    assert_located_errors(res, located=False)
    assert f"'{out / 'img'}' is a symbolic link: attngen writes only inside {out}" in res.err
    assert list(elsewhere.iterdir()) == [] and list(out.iterdir()) == [out / "img"]


def test_the_output_folder_itself_may_be_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real, target_is_directory=True)
    assert run_cli(["build", "--no-svg", SE, "-o", tmp_path / "out"]).code == 0
    assert sorted(p.name for p in real.iterdir()) == ["se.dot", "se.py"]


@pytest.mark.parametrize("command", ["build", "check-only"])
def test_a_fifo_and_a_dev_zero_link_at_output_paths_are_never_read(tmp_path, command):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "se.py")
    (out / "se.dot").symlink_to("/dev/zero")
    argv = ["build", "--no-svg", SE, "-o", out] + (["--check"] if command == "check-only" else [])
    res = _cli_subprocess(argv, tmp_path)  # before: a hang, or memory without end
    assert res.returncode == 1, res.stderr
    assert f"{out / 'se.py'}: error[E500]: is a FIFO (named pipe), not a regular file" \
        in res.stderr
    assert f"{out / 'se.dot'}: error[E500]: is a symbolic link, not a regular file" in res.stderr
    assert "Traceback" not in res.stderr
    assert stat.S_ISFIFO(os.lstat(out / "se.py").st_mode) and (out / "se.dot").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == ["se.dot", "se.py"]


def test_a_folder_at_an_output_path_is_refused(tmp_path):
    out = tmp_path / "out"
    (out / "se.py").mkdir(parents=True)
    res = run_cli(["build", "--no-svg", SE, "-o", out])
    assert_located_errors(res, located=False)
    assert f"{out / 'se.py'}: error[E500]: is a folder, not a regular file" in res.err


# -- item 11: modes and leftovers ----------------------------------------------------------
@pytest.fixture
def umask():
    def set_umask(mask):
        os.umask(mask)

    old = os.umask(0o022)
    yield set_umask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_get_the_mode_of_an_ordinary_write(tmp_path, umask, mask):
    umask(mask)
    assert run_cli(["build", "--no-svg", SE, "-o", tmp_path]).code == 0
    for name in ("se.py", "se.dot"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~mask


def test_regenerating_keeps_a_files_mode(tmp_path, umask):
    assert run_cli(["build", "--no-svg", SE, "-o", tmp_path]).code == 0
    os.chmod(tmp_path / "se.py", 0o640)
    (tmp_path / "se.py").write_text("# stale\n")
    umask(0o077)
    assert run_cli(["build", "--no-svg", SE, "-o", tmp_path]).code == 0
    assert (tmp_path / "se.py").read_text() != "# stale\n"
    assert stat.S_IMODE(os.stat(tmp_path / "se.py").st_mode) == 0o640


def test_a_build_killed_mid_write_leaves_a_leftover_that_the_next_build_removes(tmp_path):
    out = tmp_path / "out"
    child = textwrap.dedent(f"""
        import os, signal, sys
        from attngen.cli import main
        def die(src, dst):  # the temporary file is written, not yet renamed
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace = die
        main(["build", "--no-svg", {str(SE)!r}, "-o", {str(out)!r}])
    """)
    env = {**os.environ, "PYTHONPATH": CODE}
    proc = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True,
                          timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p.name for p in out.iterdir()]
    assert len(leftovers) == 1 and re.fullmatch(r"\.se\.py\.[a-z0-9_]{8}\.tmp", leftovers[0])
    assert run_cli(["build", "--no-svg", SE, "-o", out]).code == 0
    assert sorted(p.name for p in out.iterdir()) == ["se.dot", "se.py"]


def test_only_abandoned_regular_temp_files_of_the_outputs_are_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".se.py.abcd1234.tmp").write_text("partial")  # a killed write of se.py
    (out / ".se.dot.zz_9xy00.tmp").write_text("partial")
    keep = [".notes.md.abcd1234.tmp",  # not a file this build writes
            ".se.py.abc.tmp", ".se.py.ABCD1234.tmp", "se.py.abcd1234.tmp"]  # not our pattern
    for name in keep:
        (out / name).write_text("someone else's")
    os.mkfifo(out / ".se.py.fifo0000.tmp")  # not a regular file
    keep.append(".se.py.fifo0000.tmp")
    held = out / ".se.dot.held0000.tmp"  # a live writer holds its lock
    held.write_text("being written")
    keep.append(held.name)
    with open(held, "rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert run_cli(["build", "--no-svg", SE, "-o", out]).code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*keep, "se.dot", "se.py"])


def test_check_removes_nothing(tmp_path):
    out = tmp_path / "out"
    assert run_cli(["build", "--no-svg", SE, "-o", out]).code == 0
    (out / ".se.py.abcd1234.tmp").write_text("partial")
    assert run_cli(["build", "--check", "--no-svg", SE, "-o", out]).code == 0
    assert (out / ".se.py.abcd1234.tmp").exists()


# -- item 16: every spec's problems, nothing written ---------------------------------------
def _failing_renderer(dot: str, fmt: str = "svg") -> bytes:
    if "SEAttention" in dot:
        raise RenderError("graphviz-pure failed: simulated crash")
    return b"<svg/>"


def _failing_batch(dots: list[str], fmt: str = "svg") -> list[bytes | RenderError]:
    """render.render_many's contract: each diagram's SVG or its own RenderError."""
    out: list[bytes | RenderError] = []
    for dot in dots:
        try:
            out.append(_failing_renderer(dot, fmt))
        except RenderError as exc:
            out.append(exc)
    return out


def test_a_renderer_failure_is_that_specs_error_and_hides_no_other(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "_renderer", lambda: _failing_batch)
    specs = tmp_path / "specs"
    se = _copy(specs, "se.yaml")
    _copy(specs, "eca.yaml", (REPO_ROOT / "specs/eca.yaml").read_text())
    broken = _copy(specs, "z_broken.yaml", "name: Broken\ninputs:\n  x: [B, C]\n"
                   "graph:\n  y: {op: Sigmoid, in: z}\noutputs: y\n")
    paths = build.collect_specs([str(specs)])
    with pytest.raises(SpecError) as caught:
        build.artifacts(paths, tmp_path / "out", svg=True, use_cache=False)
    lines = [d.format() for d in caught.value.diagnostics]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{se}: error[E500]: cannot draw se.svg: graphviz-pure failed")
    assert lines[1].startswith(f"{broken}:5:") and "error[E300]" in lines[1]
    assert not (tmp_path / "out").exists()


def test_diagrams_drawn_together_are_the_bytes_of_each_drawn_alone():
    """render.render_many: one renderer process for several diagrams, the same SVGs as
    one process each; a DOT the renderer refuses is its own RenderError, the others draw."""
    from attngen import render

    dots = [(REPO_ROOT / "generated" / f"{name}.dot").read_text(encoding="utf-8")
            for name in ("se", "cbam", "emsa", "danet")]
    alone = [render.render(dot, "svg") for dot in dots]
    assert render.render_many(dots, "svg") == alone
    mixed = render.render_many([dots[0], "digraph { a -> }", dots[1]], "svg")
    assert mixed[0] == alone[0] and mixed[2] == alone[1]
    assert isinstance(mixed[1], RenderError)


def test_diagrams_drawn_together_leave_no_file_when_the_build_is_killed(tmp_path):
    """Ctrl-C ends a parallel build's workers at once (the signal's default: no cleanup
    runs), so the diagrams they were drawing must have no files of their own: they once had
    a temporary folder of DOT inputs and SVG outputs, left in the temp folder."""
    import time

    temp, started = tmp_path / "temp", tmp_path / "started"
    temp.mkdir()
    renderer = tmp_path / "slow-renderer"
    renderer.write_text(f"#!/bin/sh\ntouch {started}\nexec sleep 30\n")
    renderer.chmod(0o755)
    script = textwrap.dedent(f"""
        import tempfile
        from attngen import render

        tempfile.tempdir = {str(temp)!r}
        render.backend_for = lambda fmt: "graphviz-pure"
        render.find_program = lambda program: {str(renderer)!r}
        render.render_many(["digraph {{ a }}", "digraph {{ b }}"])
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the build process and the renderer
    proc.wait(timeout=30)
    assert started.exists(), "the renderer never ran"
    assert list(temp.iterdir()) == []


def test_docs_report_every_renderer_failure_with_the_other_errors(tmp_path, monkeypatch):
    import attngen.render

    monkeypatch.setattr(attngen.render, "render", _failing_renderer)
    specs = tmp_path / "specs"
    se = _copy(specs, "se.yaml")
    _copy(specs, "eca.yaml", (REPO_ROOT / "specs/eca.yaml").read_text())
    broken = _copy(specs, "z_broken.yaml", "name: Broken\ninputs:\n  x: [B, C]\n"
                   "graph:\n  y: {op: Sigmoid, in: z}\noutputs: y\n")
    res = run_cli(["docs", specs, "-o", tmp_path / "docs"])
    assert_located_errors(res, located=False)
    assert f"{se}: error[E500]: cannot draw se.svg" in res.err
    assert f"{broken}:5:" in res.err and not (tmp_path / "docs").exists()


# -- item 18: messages ---------------------------------------------------------------------
def test_a_full_disk_is_reported_at_the_file_being_written(tmp_path, monkeypatch):
    def full(src, dst, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    res = run_cli(["build", "--no-svg", SE, "-o", tmp_path])
    assert_located_errors(res, located=False)
    assert res.err.splitlines()[0] == \
        f"{tmp_path / 'se.py'}: error[E500]: cannot write it: No space left on device"
    assert [p.name for p in tmp_path.iterdir()] == []  # the temporary file is gone too


def test_an_unwritable_folder_is_reported_at_the_target_not_the_temp_file(tmp_path,
                                                                           monkeypatch):
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and os.path.dirname(path) == str(tmp_path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    res = run_cli(["build", "--no-svg", SE, "-o", tmp_path])
    assert_located_errors(res, located=False)
    assert res.err.splitlines()[0] == \
        f"{tmp_path / 'se.py'}: error[E500]: cannot write it: Permission denied"
    assert ".tmp" not in res.err


@pytest.mark.parametrize("command", ["build", "docs", "diagram", "new"])
def test_a_path_under_a_file_says_which_part_is_a_file(tmp_path, command):
    blocker = tmp_path / "x"
    blocker.write_text("keep me")
    out = blocker / "sub" / ("se.dot" if command == "diagram" else "")
    argv = ["new", "se_copy", "--from", SE] if command == "new" else [command, SE]
    res = run_cli([*argv, "-o", out])
    assert res.code == 1 and "Traceback" not in res.err
    assert (
        res.err == f"attngen: error: cannot access {out.parent if command == 'diagram' else out}"
        f": '{blocker}' is a file, not a folder\n"
    )
    assert blocker.read_text() == "keep me"


def test_a_file_where_an_output_subfolder_belongs_is_a_located_error(tmp_path):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "img").write_text("not a folder")
    res = run_cli(["docs", SE, "-o", out])
    assert_located_errors(res, located=False)
    assert f"{out / 'img' / 'se.svg'}: error[E500]: '{out / 'img'}' is a file, not a folder" \
        in res.err


def test_os_errors_without_a_file_name_are_not_glued_to_a_verb(monkeypatch, capsys):
    from attngen import cli

    def fail(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setitem(cli._COMMANDS, "ops", fail)
    assert cli.main(["ops"]) == 1
    assert capsys.readouterr().err == "attngen: error: No space left on device\n"


def test_write_file_replaces_atomically_and_cleans_up_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "t.txt"
    files.write_file(target, b"one")
    assert target.read_bytes() == b"one"

    def broken(fd, data):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "write", broken)
    with pytest.raises(OSError):
        files.write_file(target, b"two")
    assert target.read_bytes() == b"one" and [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_read_regular_reads_no_special_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for path, what in ((tmp_path / "fifo", "a FIFO (named pipe)"), ("/dev/zero",
                                                                     "a character device"),
                       (tmp_path, "a folder")):
        with pytest.raises(files.NotRegular) as exc:
            files.read_regular(path, 10)
        assert exc.value.strerror == what
    (tmp_path / "big").write_bytes(b"x" * 100)
    assert files.read_regular(tmp_path / "big", 10) == b"x" * 11
    (tmp_path / "link").symlink_to(tmp_path / "big")
    with pytest.raises(files.NotRegular):
        files.read_regular(tmp_path / "link", 10, follow=False)


@pytest.mark.parametrize("command", ["build", "docs"])
def test_one_spec_named_twice_is_built_once(tmp_path, monkeypatch, command):
    folder = tmp_path / "specs"
    spec = _copy(folder, "se.yaml")
    monkeypatch.chdir(tmp_path)
    extra = ["--no-svg"] if command == "build" else []
    res = run_cli([command, *extra, "specs", spec, "./specs/se.yaml", "-o", tmp_path / "out"])
    assert res.code == 0, res.err
    assert "1 spec(s)" in res.out
