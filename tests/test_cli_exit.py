"""The command-line entry point (`attngen`, `python -m attngen.cli`) leaves without tearing
the interpreter down (cli.run): everything printed still arrives, exit codes hold, a reader
that leaves early is no error."""

import os
import subprocess
import sys

from attngen.cli import main
from conftest import REPO_ROOT

CLI = [sys.executable, "-m", "attngen.cli"]
# buffered streams, as users have them (a test runner may set PYTHONUNBUFFERED)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _cli(*args, **kw):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False,
                          cwd=REPO_ROOT, env=ENV, **kw)


def test_output_to_a_pipe_arrives_whole(capsys):
    # a pipe is block-buffered: without the flush before os._exit nothing would arrive
    assert main(["ops"]) == 0
    expected = capsys.readouterr().out
    proc = _cli("ops")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected


def test_errors_exit_1_with_their_diagnostics(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\ninputs:\n  x: [B, C]\ngraph:\n  y: {op: Sigmoid, in: z}\n"
                   "outputs: y\n")
    proc = _cli("check", str(bad))
    assert proc.returncode == 1
    assert "bad.yaml:5:" in proc.stderr
    assert proc.stderr.rstrip().endswith(f"attngen: 1 error in {bad}")
    assert "Traceback" not in proc.stderr


def test_usage_errors_exit_2():
    proc = _cli("build")
    assert proc.returncode == 2
    assert "attngen: error:" in proc.stderr and "Traceback" not in proc.stderr
    assert _cli("--help").returncode == 0


def test_a_reader_that_leaves_early_is_no_error():
    proc = subprocess.Popen([*CLI, "ops"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO_ROOT, env=ENV)
    proc.stdout.close()  # like `attngen ops | head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert err == ""


def test_build_writes_every_file_before_it_exits(tmp_path):
    proc = _cli("build", "specs/eca.yaml", "specs/se.yaml", "-o", str(tmp_path), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    for stem in ("eca", "se"):
        for suffix in (".py", ".dot"):
            built = (tmp_path / f"{stem}{suffix}").read_bytes()
            assert built == (REPO_ROOT / "generated" / f"{stem}{suffix}").read_bytes()


def test_version_is_the_installed_one():
    from importlib.metadata import version

    proc = _cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"attngen {version('attngen')}"


def test_a_mistyped_command_gets_a_suggestion():
    proc = _cli("biuld", "specs/")
    assert proc.returncode == 2
    assert "unknown command 'biuld'; did you mean 'build'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _cli("frobnicate")
    assert proc.returncode == 2 and "did you mean" not in proc.stderr
    assert "commands: build, check," in proc.stderr


def test_every_subcommand_dispatches():
    import argparse

    from attngen import cli, cli_args

    actions = cli_args.command_parser()._actions
    sub = next(a for a in actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli._COMMANDS)


def _run_raising(exc: str):
    """cli.run() in a process of its own whose main() raises `exc`."""
    code = ("import attngen.cli as cli\n"
            f"def boom(): raise {exc}\n"
            "cli.main = boom\ncli.run()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=REPO_ROOT, env=ENV)


def test_a_bug_of_attngen_says_so_and_exits_70():
    """An exception no check anticipated is attngen's bug: its traceback (for the report),
    then a line saying whose bug it is, and sysexits' EX_SOFTWARE, not 1 (errors in the
    spec)."""
    proc = _run_raising("RuntimeError('boom')")
    assert proc.returncode == 70
    assert "RuntimeError: boom" in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "attngen: internal error: this is a bug in attngen, not in the spec; please report "
        "it with the spec and the traceback above")


def test_ctrl_c_is_a_line_not_a_traceback():
    proc = _run_raising("KeyboardInterrupt")
    assert proc.returncode == 130
    assert proc.stderr == "attngen: interrupted\n"


def test_ctrl_c_inside_a_command_is_the_same_line(monkeypatch, capsys):
    import attngen.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "ops", interrupted)
    assert main(["ops"]) == 130
    assert capsys.readouterr().err == "attngen: interrupted\n"
