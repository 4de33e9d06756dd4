"""Builds killed at random points (SIGKILL, no chance to clean up), in a loop.

A build of a few specs runs in a child process, with the build cache on in a private folder;
between builds, two spec files are edited so that every build changes files (the old and
the new version of each differ). The child is killed at a random point, on one of two
clocks in turn: after a random delay between 0 and the time a whole build takes, or just
before its k-th file operation (opening to write, writing, renaming, removing a file, making
a folder), k drawn from 1 to the number a whole build makes; the writes take a sliver of a
build's time, so the second clock is what lands kills amid them. After each kill:
- every file of the output folder and of the cache is byte for byte its old or its new
  version (never a part, never a third thing); hidden temporary files may remain;
- the next complete build gives exactly the new files, and leaves no temporary file in
  either folder;
- the cache then serves correct bytes: `build --check` passes, and a build served from
  the cache equals the `--no-cache` build of the same specs.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import attngen
import pytest
from conftest import REPO_ROOT
from fuzzing import run_cli

SPECS = ("cbam", "channel_attention", "spatial_attention", "se")
# Version "b" of two files: cbam.py, channel_attention.py and se.py change, and the cache
# entries of all three (cbam reads channel_attention.yaml); spatial_attention stays.
EDITS = {"channel_attention": ("ratio: {default: 16", "ratio: {default: 8"),
         "se": ("reduction: {default: 16", "reduction: {default: 4")}
TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # files.write_file's temporary files
KILLS, LONG_KILLS = 5, 30


def _texts(version: str) -> dict[str, str]:
    texts = {}
    for name in SPECS:
        text = (REPO_ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8")
        if version == "b" and name in EDITS:
            old, new = EDITS[name]
            assert old in text, f"{name}.yaml no longer holds {old!r}"
            text = text.replace(old, new)
        texts[name] = text
    return texts


def _files(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """The folder's regular files (path -> bytes), and its temporary files apart."""
    found, temps = {}, []
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder).as_posix()
        if TEMP.fullmatch(path.name):
            temps.append(rel)
        else:
            assert path.is_file() and not path.is_symlink(), f"{rel}: not a regular file"
            found[rel] = path.read_bytes()
    return found, temps


# The build, run by the child: with a positive K it kills itself just before its K-th file
# operation; at the end it reports how many it made.
CHILD = """
import os, signal, sys
from attngen.cli import main

kill_at, count = int(sys.argv[1]), 0


def counted(operation):
    def run(*args, **kwargs):
        global count
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return operation(*args, **kwargs)
    return run


def counted_open(path, flags, *args, **kwargs):  # opening to write counts, reading not
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        return counted(OPEN)(path, flags, *args, **kwargs)
    return OPEN(path, flags, *args, **kwargs)


OPEN = os.open
for name in ("write", "replace", "rename", "chmod", "unlink", "mkdir"):
    setattr(os, name, counted(getattr(os, name)))
os.open = counted_open
code = main(sys.argv[2:])
sys.stderr.write(f"file operations: {count}\\n")
sys.exit(code)
"""


class Workspace:
    """Specs, an output folder and a cache folder under `root`; builds of them."""

    def __init__(self, root: Path):
        self.work, self.out, self.cache = root / "work", root / "out", root / "cache"
        self.work.mkdir()
        self.argv = ["build", str(self.work), "-o", str(self.out)]
        code = Path(attngen.__file__).resolve().parent.parent  # the attngen this test runs
        env = {k: v for k, v in os.environ.items() if k != "ATTNGEN_NO_CACHE"}
        self.env = {**env, "ATTNGEN_CACHE_DIR": str(self.cache), "PYTHONPATH": str(code)}

    def edit(self, version: str) -> None:
        for name, text in _texts(version).items():
            (self.work / f"{name}.yaml").write_text(text, encoding="utf-8")

    def state(self) -> tuple[dict, dict, list[str]]:
        """(output files, cache files, temporary files left in either)."""
        out, out_temps = _files(self.out) if self.out.exists() else ({}, [])
        cache, cache_temps = _files(self.cache) if self.cache.exists() else ({}, [])
        return out, cache, out_temps + cache_temps

    def build(self, *extra: str, out: Path | None = None) -> None:
        argv = [*self.argv, *extra]
        if out is not None:
            argv[3] = str(out)
        res = run_cli(argv)
        assert res.code == 0, f"{argv}: {res.err}"

    def start(self, kill_at: int = 0) -> subprocess.Popen:
        """The build in a child process (see CHILD)."""
        return subprocess.Popen([sys.executable, "-c", CHILD, str(kill_at), *self.argv],
                                env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """The cache on (conftest turns it off for other tests), in a private folder; the
    in-process builds use the same environment as the killed ones."""
    space = Workspace(tmp_path)
    monkeypatch.delenv("ATTNGEN_NO_CACHE", raising=False)
    monkeypatch.setenv("ATTNGEN_CACHE_DIR", str(space.cache))
    return space


def _known_states(space: Workspace, tmp_path: Path) -> tuple[dict, float, int]:
    """The complete state after a build of each version (each checked against a
    `--no-cache` build); how long a build in a child process takes, and how many file
    operations it makes."""
    states, seconds, operations = {}, 0.0, 0
    for version in ("a", "b"):
        space.edit(version)
        start = time.monotonic()
        child = space.start()
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        seconds = max(seconds, time.monotonic() - start)
        operations = max(operations, int(re.search(r"file operations: (\d+)", err)[1]))
        out, cache, temps = space.state()
        assert not temps and len(cache) == len(SPECS), (temps, sorted(cache))
        space.build("--no-cache", out=tmp_path / f"full_{version}")
        assert _files(tmp_path / f"full_{version}")[0] == out
        states[version] = (out, cache)
    assert all(states["a"][i] != states["b"][i] for i in (0, 1))
    changed = {n for n in states["a"][0] if states["a"][0][n] != states["b"][0][n]}
    assert {"cbam.py", "channel_attention.py", "se.py"} <= changed, changed
    return states, seconds, operations


def _kill(space: Workspace, rng: random.Random, i: int, seconds: float,
          operations: int) -> str:
    """Start a build and kill it at a random point (see the module docstring); the point."""
    if i % 2:
        kill_at = rng.randint(1, operations)
        child = space.start(kill_at)
        point = f"before file operation {kill_at} of {operations}"
    else:
        delay = rng.uniform(0, seconds)
        child = space.start()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        point = f"after {delay:.2f} s of {seconds:.2f} s"
    child.communicate(timeout=300)
    return point


def _kill_loop(space: Workspace, tmp_path: Path, kills: int, seed: int) -> None:
    states, seconds, operations = _known_states(space, tmp_path)
    rng = random.Random(seed)
    version = "b"  # what the folders hold now
    for i in range(kills):
        old, new = states[version], states["a" if version == "b" else "b"]
        version = "a" if version == "b" else "b"
        space.edit(version)
        where = f"kill {i + 1} {_kill(space, rng, i, seconds, operations)} (seed {seed})"
        out, cache, _ = space.state()  # temporary files may remain after a kill
        for now, before, after, folder in ((out, old[0], new[0], "output"),
                                           (cache, old[1], new[1], "cache")):
            for name in set(now) | set(before) | set(after):
                assert now.get(name) in (before.get(name), after.get(name)), \
                    f"{where}: {folder} file {name} is neither its old nor its new version"
        space.build()  # the next complete build
        out, cache, temps = space.state()
        assert not temps, f"{where}: the next build left {temps}"
        assert (out, cache) == new, f"{where}: the next build did not give the new files"
        space.build("--check")
        served = tmp_path / f"served_{i}"
        space.build(out=served)  # every spec from the cache
        assert _files(served)[0] == new[0], f"{where}: the cache served other bytes"
        shutil.rmtree(served)


def test_killed_builds_leave_old_or_new_files(workspace, tmp_path):
    _kill_loop(workspace, tmp_path, KILLS, seed=18)


@pytest.mark.slow
def test_long_killed_builds_leave_old_or_new_files(workspace, tmp_path):
    _kill_loop(workspace, tmp_path, LONG_KILLS, seed=1818)
