"""`use:` and `extends:` resolve like a compiler's includes (loader.py).

Only inside the folder of the spec being built (and below), the built-in library, and
folders named with `-I DIR` (`include=` in the API). Anything else, also through a symlink,
is E503 at the `use:`, and the file is never opened: errors used to echo a foreign file's
first key (`/etc/passwd`), and a symlink loop gave a traceback.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import attngen
import pytest
from attngen.errors import SpecError
from fuzzing import assert_located_errors, run_cli

SECRET = "SECRET_KEY_4711"  # the first key of a file outside the allowed folders


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def user(path: Path, target: str, key: str = "use", name: str = "Top") -> Path:
    """A spec whose node `p` uses `target` (or, with key="extends", a variant of it)."""
    if key == "extends":
        return write(path, f"extends: {target}\nname: Mine\n")
    return write(path, f"name: {name}\ninputs:\n  x: [B, C]\ngraph:\n  p: {{use: {target}, "
                 "in: x}\noutputs: p\n")


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """proj/ (the spec being built), lib/ beside it, a secret file above both."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "lib" / "blk.yaml", """\
        name: Blk
        inputs: {x: [B, C]}
        graph: {y: {op: ReLU, in: x}}
        outputs: y
        """)
    write(tmp_path / "secret.yaml", f"{SECRET}: 1\nname: Secret\n")
    (tmp_path / "proj").mkdir()
    return tmp_path


def refused(res, where: str, shown: str) -> list[str]:
    assert_located_errors(res)
    lines = res.err.splitlines()
    assert lines[0] == f"{where}: error[E503]: '{shown}' lies outside the folders specs are " \
                       "read from", lines[0]
    assert SECRET not in res.err and "Secret" not in res.err
    return lines


@pytest.mark.parametrize("key", ["use", "extends"])
@pytest.mark.parametrize("target", ["../secret", "../secret.yaml", "{abs}", "../lib/../secret"])
def test_a_target_outside_is_refused_unopened(tree, key, target):
    target = target.format(abs=tree / "secret.yaml")
    spec = user(tree / "proj" / "top.yaml", target, key)
    where = "proj/top.yaml:5:12" if key == "use" else "proj/top.yaml:1:10"
    refused(run_cli(["check", spec]), where, target)


def test_system_files_are_refused_unopened(tree):
    spec = user(tree / "proj" / "top.yaml", "/etc/passwd")
    lines = refused(run_cli(["check", spec]), "proj/top.yaml:5:12", "/etc/passwd")
    assert "root" not in "\n".join(lines)


def test_a_special_file_outside_is_never_opened(tree):
    """A FIFO blocks whoever opens it for reading: the check would hang."""
    os.mkfifo(tree / "pipe.yaml")
    spec = user(tree / "proj" / "top.yaml", "../pipe")
    refused(run_cli(["check", spec]), "proj/top.yaml:5:12", "../pipe")


def test_a_symlink_is_followed_then_checked(tree):
    (tree / "proj" / "link.yaml").symlink_to(tree / "secret.yaml")
    (tree / "proj" / "inside.yaml").symlink_to(tree / "proj" / "real.yaml")
    write(tree / "proj" / "real.yaml", (tree / "lib" / "blk.yaml").read_text())
    lines = refused(run_cli(["check", user(tree / "proj" / "top.yaml", "link")]),
                    "proj/top.yaml:5:12", "link")
    assert lines[1] == f"  note: it is a symlink to {tree / 'secret.yaml'}"
    assert run_cli(["check", user(tree / "proj" / "ok.yaml", "inside")]).code == 0


def test_a_symlink_loop_is_a_located_error(tree):
    (tree / "proj" / "a.yaml").symlink_to(tree / "proj" / "b.yaml")
    (tree / "proj" / "b.yaml").symlink_to(tree / "proj" / "a.yaml")
    res = run_cli(["check", user(tree / "proj" / "top.yaml", "a")])
    assert_located_errors(res)
    assert res.err.startswith("proj/top.yaml:5:12: error[E500]: cannot find spec 'a'")
    assert "note: proj/a.yaml is a symlink to no file (a loop or a missing target)" in res.err


def test_an_include_folder_is_allowed(tree):
    spec = user(tree / "proj" / "top.yaml", "../lib/blk")
    refused(run_cli(["check", spec]), "proj/top.yaml:5:12", "../lib/blk")
    assert run_cli(["check", "-I", "lib", spec]).code == 0
    assert run_cli(["build", "--no-svg", "-I", "lib", spec, "-o", "out"]).code == 0
    assert attngen.load(spec, include=["lib"]).spec.nodes["p"].form.spec.name == "Blk"
    with pytest.raises(SpecError) as exc:
        attngen.load(spec)
    assert exc.value.diagnostics[0].code == "E503"
    assert attngen.compile(spec, include=[tree / "lib"]).__name__ == "Top"


def test_a_missing_include_folder_is_a_usage_error(tree):
    res = run_cli(["check", "-I", "nowhere", user(tree / "proj" / "top.yaml", "blk")])
    assert res.code == 2 and "-I nowhere: no such folder" in res.err


def test_the_tree_of_the_spec_being_built_is_the_root(tree):
    """A sub-spec in a subfolder may use a file elsewhere in the top spec's tree; built on
    its own, its tree is its own folder."""
    write(tree / "proj" / "other.yaml", (tree / "lib" / "blk.yaml").read_text())
    sub = user(tree / "proj" / "sub" / "mid.yaml", "../other", name="Mid")
    top = user(tree / "proj" / "top.yaml", "sub/mid")
    assert run_cli(["check", top]).code == 0
    refused(run_cli(["check", sub]), "proj/sub/mid.yaml:5:12", "../other")
    res = run_cli(["check", top, sub])  # one loader, two trees
    assert res.code == 1 and res.err.startswith("proj/sub/mid.yaml:5:12: error[E503]")


def test_the_built_in_library_is_always_allowed(tree):
    assert run_cli(["check", user(tree / "proj" / "top.yaml", "se")]).code == 1  # args
    spec = user(tree / "proj" / "v.yaml", "se", key="extends")
    assert run_cli(["check", spec]).code == 0


@pytest.mark.parametrize("argv", [
    ["check"], ["show"], ["diagram", "-o", "pic.dot"], ["docs", "-o", "pages"],
    ["params"], ["diff", "proj/top.yaml"], ["new", "mine", "-o", "proj", "--from"],
])
def test_every_command_that_reads_specs_takes_include_folders(tree, argv):
    spec = user(tree / "proj" / "top.yaml", "../lib/blk")
    assert run_cli([*argv, spec]).code == 1
    res = run_cli([argv[0], "-I", "lib", *argv[1:], spec])
    assert res.code == 0, res.err


def test_the_include_folders_are_part_of_the_cache_key(tree, monkeypatch):
    monkeypatch.setenv("ATTNGEN_NO_CACHE", "0")
    monkeypatch.setenv("ATTNGEN_CACHE_DIR", str(tree / "cache"))
    spec = user(tree / "proj" / "top.yaml", "../lib/blk")
    assert run_cli(["build", "--no-svg", "-I", "lib", spec, "-o", "out"]).code == 0
    res = run_cli(["build", "--no-svg", spec, "-o", "out"])
    assert res.code == 1 and "error[E503]" in res.err


def test_a_special_file_where_a_spec_could_be_is_never_read(tree):
    """`use: se` looks next to the spec first: a FIFO there is skipped, also by the build
    cache, which hashes the files a build depended on (it used to block reading it)."""
    os.mkfifo(tree / "proj" / "se.yaml")
    spec = write(tree / "proj" / "top.yaml", """\
        name: Top
        inputs: {x: [B, 512, H, W]}
        graph: {p: {use: se, in: x}}
        outputs: p
        """)
    env = {**os.environ, "ATTNGEN_NO_CACHE": "0", "ATTNGEN_CACHE_DIR": str(tree / "cache")}
    for _ in range(2):  # a cache miss, then a hit
        proc = subprocess.run([sys.executable, "-m", "attngen.cli", "build", "--no-svg",
                               str(spec), "-o", str(tree / "out")], capture_output=True,
                              text=True, timeout=120, env=env, check=False)
        assert proc.returncode == 0, proc.stderr


def test_new_from_a_base_elsewhere_prints_a_build_command_that_works(tree):
    res = run_cli(["new", "mine", "--from", tree / "lib" / "blk.yaml", "-o", "proj"])
    assert res.code == 0, res.err
    command = res.out.split("build it with `", 1)[1].split("`", 1)[0]
    argv = shlex.split(command)
    assert argv[:4] == ["attngen", "build", "-I", str(tree / "lib")]
    assert run_cli([*argv[1:], "--no-svg", "-o", "out"]).code == 0
    refused(run_cli(["check", "proj/mine.yaml"]), "proj/mine.yaml:3:10", "../lib/blk.yaml")
