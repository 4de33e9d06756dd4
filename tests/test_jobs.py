"""Builds shared among forked worker processes (jobs.py): the same bytes, errors and
warnings as a build in one process; a dead worker's share is built here; no fork where one
is unsafe. The CLI runs in fresh processes here: a test process may hold torch's threads,
where the build (rightly) does not fork."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest
from attngen import jobs
from attngen.errors import BAD_VALUE, InternalError, Loc, SpecError, error
from conftest import REPO_ROOT
from serving import ctrl_c_default

SPECS = REPO_ROOT / "specs"
ATTNGEN = [sys.executable, "-m", "attngen.cli"]


def _run(args, cwd, **env):
    return subprocess.run([*ATTNGEN, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _script(code: str) -> subprocess.CompletedProcess:
    """Python code run in a fresh process (one thread, nothing imported, Ctrl-C not ignored)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT, preexec_fn=ctrl_c_default)


def test_a_shared_build_writes_the_bytes_of_one_process(tmp_path):
    outs = {}
    for jobs_arg in ("1", "3"):
        out = tmp_path / f"j{jobs_arg}"
        res = _run(["build", SPECS, SPECS / "variants", "-o", out, "--no-cache",
                    "-j", jobs_arg], tmp_path)
        assert res.returncode == 0, res.stderr
        outs[jobs_arg] = (_files(out), res.stderr)
    assert outs["1"] == outs["3"]  # files, and the warnings in order
    assert len(outs["1"][0]) == 3 * (len(list(SPECS.glob("*.yaml")))
                                     + len(list((SPECS / "variants").glob("*.yaml"))))


def test_errors_and_warnings_come_back_in_order(tmp_path):
    """Broken specs spread over the shares: each one's errors, the others built, the
    summary line, all as from one process."""
    work = tmp_path / "specs"
    work.mkdir()
    for path in sorted(SPECS.glob("*.yaml"))[:14]:
        shutil.copy(path, work)
    (work / "b_broken.yaml").write_text("name: Broken\ninputs: {x: [B, C]}\n"
                                        "nodes:\n  y: {op: relu, in: nope}\noutputs: [y]\n")
    (work / "m_broken.yaml").write_text("name: [\n")
    (work / "z_broken.yaml").write_text("name: Z\ninputs: {x: [B, C]}\n"
                                        "nodes:\n  y: {op: no_such_op, in: x}\noutputs: [y]\n")
    runs = {}
    for jobs_arg in ("1", "2"):
        here = tmp_path / f"j{jobs_arg}"  # `-o out` there: the same text in both reports
        here.mkdir()
        res = _run(["build", work, "-o", "out", "--no-cache", "-j", jobs_arg], here)
        runs[jobs_arg] = (res.returncode, res.stdout, res.stderr, _files(here / "out"))
    assert runs["1"] == runs["2"]
    code, _, stderr, written = runs["2"]
    assert code == 1 and "Traceback" not in stderr
    assert stderr.index("b_broken.yaml") < stderr.index("m_broken.yaml") \
        < stderr.index("z_broken.yaml")
    assert len(written) == 3 * 14


def test_the_shared_build_fills_the_build_cache(tmp_path):
    env = {"ATTNGEN_CACHE_DIR": str(tmp_path / "cache"), "ATTNGEN_NO_CACHE": ""}
    first = _run(["build", SPECS, "-o", tmp_path / "a", "-j", "2"], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    entries = list((tmp_path / "cache").glob("*.json"))
    assert len(entries) == len(list(SPECS.glob("*.yaml")))
    # served from the cache: a build that imports no sympy (nothing checked)
    second = subprocess.run([sys.executable, "-X", "importtime", *ATTNGEN[1:], "build", SPECS,
                             "-o", tmp_path / "b", "-j", "2"], cwd=tmp_path,
                            capture_output=True, text=True, env={**os.environ, **env})
    assert second.returncode == 0
    assert not any(line.rsplit("|", 1)[-1].strip() == "sympy"
                   for line in second.stderr.splitlines())
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_workers_are_forked_and_results_keep_the_order():
    res = _script("""
        import os, time
        from pathlib import Path
        from attngen import jobs

        def build(share):
            time.sleep(0.2)  # a share's work: no worker is free to take a second one
            return {p: (p.stem, os.getpid()) for p in share}

        paths = [Path(f"{i}.yaml") for i in range(20)]
        assert jobs.fork_is_safe()
        got = jobs.build_all(paths, 3, build)
        assert list(got) == paths and [v[0] for v in got.values()] == [p.stem for p in paths]
        pids = {pid for _, pid in got.values()}
        assert got[paths[0]][1] == os.getpid() and len(pids - {os.getpid()}) >= 2, pids
        print("ok")
    """)
    assert res.stdout == "ok\n", res.stderr


def test_the_smallest_spec_is_built_before_the_fork(tmp_path):
    res = _script(f"""
        import os
        from pathlib import Path
        from attngen import jobs

        folder = Path({str(tmp_path)!r})
        paths = []
        for i, size in enumerate([900, 500, 40, 700, 300, 800, 600, 200, 100, 400]):
            path = folder / f"{{i}}.yaml"
            path.write_text("#" * size)
            paths.append(path)
        got = jobs.build_all(paths, 2, lambda share: {{p: os.getpid() for p in share}})
        assert list(got) == paths
        here = [p.name for p, pid in got.items() if pid == os.getpid()]
        assert here == ["2.yaml"], here  # 40 bytes: the others wait for it alone
        print("ok")
    """)
    assert res.stdout == "ok\n", res.stderr


def test_a_dead_workers_share_is_built_here():
    res = _script("""
        import os
        from pathlib import Path
        from attngen import jobs

        parent = os.getpid()

        def build(share):
            if os.getpid() != parent and Path("3.yaml") in share:
                os._exit(9)  # killed mid-build
            return {p: p.stem for p in share}

        paths = [Path(f"{i}.yaml") for i in range(12)]
        got = jobs.build_all(paths, 2, build)
        assert got == {p: p.stem for p in paths}, got
        print("ok")
    """)
    assert res.stdout == "ok\n", res.stderr


def _interrupted_build(tmp_path, preexec):
    """A build of 354 specs in 2 processes, sent Ctrl-C (SIGINT to its process group, as a
    terminal sends it) once both workers run: (exit status, stderr, the output folder)."""
    import signal
    import time

    work = tmp_path / "specs"
    work.mkdir()
    for k in range(6):  # enough work to be interrupted in the middle
        for path in sorted(SPECS.glob("*.yaml")):
            text = path.read_text(encoding="utf-8").replace("name: ", f"name: C{k}", 1)
            (work / f"c{k}_{path.name}").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.Popen([*ATTNGEN, "build", str(work), "-o", str(out), "--no-cache",
                             "-j", "2"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=preexec)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until both workers run
        if len(_children(proc.pid)) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the build ended before its workers were seen"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr, out


def test_ctrl_c_stops_the_workers_and_writes_nothing(tmp_path):
    code, stderr, out = _interrupted_build(tmp_path, ctrl_c_default)
    assert (code, stderr) == (130, "attngen: interrupted\n")
    assert not out.exists()


def test_a_worker_ends_at_ctrl_c_unless_the_build_ignores_it():
    """A worker takes the signal's default (ends silently); where the build ignores SIGINT
    (`attngen build ... &` in a shell without job control), its workers ignore it too."""
    res = _script("""
        import signal
        from attngen import jobs

        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        jobs._start_worker(print)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        jobs._start_worker(print)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        print("ok")
    """)
    assert res.stdout == "ok\n", res.stderr


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: field 4 of each one's stat)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            found.append(int(entry))
    return found


def test_no_fork_beside_another_thread_nor_for_few_specs():
    assert jobs.workers_for(1, None) == 1
    assert jobs.workers_for(2 * jobs.MIN_SHARE, 8) == 1  # 7 after the first: one share
    assert jobs.workers_for(100, 1) == 1
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not jobs.fork_is_safe()
        assert jobs.workers_for(100, 4) == 1
    finally:
        stop.set()
        thread.join()
    res = _script("""
        from attngen import jobs
        assert jobs.fork_is_safe()
        assert jobs.workers_for(100, 4) == 4
        assert jobs.workers_for(4 * jobs.MIN_SHARE + 1, 8) == 4  # one per MIN_SHARE
        assert jobs.workers_for(100, None) == min(jobs.usable_cpus(), 24)
        print("ok")
    """)
    assert res.stdout == "ok\n", res.stderr


def test_errors_pickle_as_they_were_made():
    problem = error(Loc("a.yaml", 3, 5), BAD_VALUE, "bad", "a note")
    back = pickle.loads(pickle.dumps(problem))
    assert isinstance(back, SpecError) and back.diagnostics == problem.diagnostics
    assert back.diagnostics[0].code.summary == BAD_VALUE.summary and str(back) == str(problem)
    internal = InternalError(Loc("a.yaml", 1, 1), "source does not compile")
    assert str(pickle.loads(pickle.dumps(internal))) == str(internal)


@pytest.mark.parametrize("value, message", [
    ("0", "attngen: error: --jobs must be at least 1"),
    ("-3", "attngen: error: --jobs must be at least 1"),
    ("two", "argument -j/--jobs: invalid int value: 'two'"),
])
def test_a_bad_jobs_value_is_a_usage_error(tmp_path, value, message):
    res = _run(["build", SPECS / "se.yaml", "-o", tmp_path / "out", "-j", value], tmp_path)
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()
