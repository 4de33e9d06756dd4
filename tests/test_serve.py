"""`attngen serve` over HTTP and `attngen build --watch`, each a real process (or thread)
following real files. Marked `serve`: they need the serve extra (`pytest -m serve`)."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO_ROOT
from serving import CODE, Events, Server, ctrl_c_default, free_port

pytestmark = pytest.mark.serve
SPECS = REPO_ROOT / "specs"


@pytest.fixture
def folder(tmp_path):
    for name in ("se", "cbam", "channel_attention", "spatial_attention"):
        shutil.copy(SPECS / f"{name}.yaml", tmp_path / f"{name}.yaml")
    return tmp_path


@pytest.fixture
def server(folder):
    s = Server(folder, ".")
    yield s
    assert s.stop() == 0  # Ctrl-C ends it cleanly


def test_lists_the_specs_and_serves_each(server):
    assert server.banner.startswith("serving 4 spec(s) (0 with errors) at http://127.0.0.1:")
    ids = [s["id"] for s in server.json("/api/specs")]
    assert ids == ["cbam.yaml", "channel_attention.yaml", "se.yaml", "spatial_attention.yaml"]
    view = server.json("/api/spec?id=se.yaml")
    assert view["ok"] and view["svg"].lstrip().startswith("<?xml")
    assert "class SEAttention(nn.Module):" in view["source"]


@pytest.mark.parametrize("path", [
    "/api/spec?id=../se.yaml", "/api/spec?id=/etc/passwd", "/api/spec?id=%2Fetc%2Fpasswd",
    "/api/spec?id=..%2F..%2Fetc%2Fpasswd", "/api/spec?id=", "/../../etc/passwd",
    "/static/../../pyproject.toml", "/se.yaml", "/app.js/../../se.yaml",
])
def test_nothing_but_listed_specs_and_the_page(server, path):
    status, _, body = server.get(path)
    assert status == 404 and b"SEAttention" not in body and b"root:" not in body


def test_the_page_is_served_with_a_strict_policy_and_only_to_its_own_host(server):
    status, headers, body = server.get("/")
    assert status == 200 and b'<script src="/app.js"' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for name in ("/app.js", "/app.css"):
        assert server.get(name)[0] == 200
    assert server.get("/", host="evil.example")[0] == 400  # DNS rebinding refused


def test_a_save_pushes_an_event_and_dependents_follow(server, folder):
    events = Events(server)
    try:
        path = folder / "channel_attention.yaml"
        path.write_text(path.read_text().replace("ratio: {default: 16", "ratio: {default: 8"))
        _, data = events.wait_for("cbam.yaml", 0)
        assert "channel_attention.yaml" in data["changed"] and "se.yaml" not in data["changed"]
        assert server.json("/api/spec?id=cbam.yaml")["version"] == 2
        seen = len(events.received)
        (folder / "se.yaml").write_text("name: [")  # broken: a located error, stale diagram
        events.wait_for("se.yaml", seen)
        view = server.json("/api/spec?id=se.yaml")
        assert not view["ok"] and view["stale"] and view["svg"]
        assert view["errors"][0]["text"].startswith("se.yaml:2:1: error[")
    finally:
        events.close()


def test_another_interface_needs_naming_and_warns(folder):
    proc = subprocess.Popen([sys.executable, "-m", "attngen.cli", "serve", ".", "--host",
                             "0.0.0.0", "--port", str(free_port())], cwd=folder, text=True,
                            env={**os.environ, "PYTHONPATH": str(CODE)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=ctrl_c_default)
    try:
        warning = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    assert warning.startswith("attngen: warning: serving on 0.0.0.0: anyone who can reach")


# -- build --watch -----------------------------------------------------------------------
def _wait(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_watch_rebuilds_what_a_change_affects(folder, capsys, monkeypatch):
    from attngen.watch import watch_build

    stop, result = threading.Event(), []
    out = folder / "out"
    thread = threading.Thread(target=lambda: result.append(
        watch_build(["."], out, svg=False, use_cache=False, stop=stop)))
    monkeypatch.chdir(folder)
    try:
        thread.start()
        assert _wait(lambda: (out / "cbam.py").exists())
        time.sleep(0.3)  # the watcher is up once the first build has printed
        before = (out / "cbam.py").read_text()
        path = folder / "channel_attention.yaml"
        path.write_text(path.read_text().replace("ratio: {default: 16", "ratio: {default: 4"))
        assert _wait(lambda: (out / "cbam.py").read_text() != before)  # a dependent
        (folder / "se.yaml").write_text("name: SE\ninputs: {x: [B]}\ngraph: {}\n")
        assert _wait(lambda: "error[" in capsys.readouterr().err or False, 20)
    finally:
        stop.set()
        thread.join(20)
    assert result == [0]


def test_watch_ends_cleanly_on_ctrl_c(folder):
    proc = subprocess.Popen([sys.executable, "-m", "attngen.cli", "build", "--watch", ".",
                             "-o", "out", "--no-svg"], cwd=folder, text=True,
                            env={**os.environ, "PYTHONPATH": str(CODE)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=ctrl_c_default)
    first = proc.stdout.readline()
    assert first.startswith("built 4 spec(s): 8 file(s) written in out/")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "stopped watching" in out and "Traceback" not in err


def test_bench_serve_quick(capsys):
    import importlib.util

    path = REPO_ROOT / "benchmarks" / "bench_serve.py"
    spec = importlib.util.spec_from_file_location("_bench_serve", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| write")]
    assert len(rows) == 2  # timed, not judged: the numbers are benchmarks/README.md's


def test_serves_the_built_in_library_from_a_wheel(tmp_path):
    """A non-editable install: the page's files and the library come from the wheel."""
    import zipfile

    wheel_dir, site, work = tmp_path / "wheel", tmp_path / "site", tmp_path / "elsewhere"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir), str(REPO_ROOT)], check=True)
    (wheel,) = wheel_dir.glob("attngen-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    work.mkdir()
    server = Server(work, code=site)  # no PATH and no specs/ here: the built-in library
    try:
        assert server.get("/")[0] == 200 and b"EventSource" in server.get("/app.js")[2]
        ids = [s["id"] for s in server.json("/api/specs")]
        assert "specs/se.yaml" in ids and "specs/variants/se_max.yaml" in ids
        assert server.json("/api/spec?id=specs/se.yaml")["ok"]
    finally:
        assert server.stop() == 0


def test_show_watch_draws_again_and_marks_a_broken_spec_stale(folder, capsys):
    from attngen.watch import watch_show

    stop, result = threading.Event(), []
    spec = folder / "cbam.yaml"
    thread = threading.Thread(target=lambda: result.append(
        watch_show(spec, width=100, collapse=True, stop=stop)))
    seen = []

    def printed(text):
        out, err = capsys.readouterr()
        seen.append(out + err)
        return text in "".join(seen)

    try:
        thread.start()
        assert _wait(lambda: printed("◎    return  result"))
        time.sleep(0.3)
        sub = folder / "channel_attention.yaml"  # a file the spec reads through `use:`
        sub.write_text(sub.read_text().replace("in_planes // ratio, 1", "in_planes // ratio, 3"))
        assert _wait(lambda: printed("(the drawing above is stale: "))
    finally:
        stop.set()
        thread.join(20)
    assert result == [0] and "error[" in "".join(seen)


def test_ctrl_c_ends_the_open_event_streams_and_exits_0(folder):
    server = Server(folder, ".")
    events = Events(server)  # a page left open
    try:
        assert server.stop() == 0
        assert events.ended.wait(5)
    finally:
        events.close()
