"""A running `attngen serve` for the serve tests and the benchmark: a subprocess on a free
loopback port over a folder of specs, stopped with Ctrl-C (SIGINT) at the end."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CODE = REPO_ROOT / "codegen"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ctrl_c_default() -> None:
    """Popen's preexec_fn for a child that is stopped with Ctrl-C (SIGINT): a runner started
    in the background (`cmd &` in a shell without job control) ignores SIGINT, children
    inherit that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Server:
    """`attngen serve ARGS --port N` run in `cwd`; `get` and `events` talk to it."""

    def __init__(self, cwd: Path, *args: str, startup_s: float = 60, code: Path = CODE) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(code)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "attngen.cli", "serve", *args, "--port", str(self.port)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=ctrl_c_default)
        self.banner = self.proc.stdout.readline() if self.proc.stdout else ""
        deadline = time.monotonic() + startup_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.proc.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("serve did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def get(self, path: str, host: str | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path, headers={"Host": host} if host else {})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), body

    def json(self, path: str):
        status, _, body = self.get(path)
        assert status == 200, (path, status)
        return json.loads(body)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Events:
    """The server's event stream read in a thread: each event's data, with the time it
    arrived (time.perf_counter)."""

    def __init__(self, server: Server) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.conn.request("GET", "/api/events")
        self.sock = self.conn.sock  # shut down by `close`: the reading thread holds the file
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        self.received: list[tuple[float, dict]] = []
        self.ready = threading.Event()
        self.ended = threading.Event()  # the server ended the stream
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(10), "no event stream"

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed by `close`
            self._lines()
            self.ended.set()

    def _lines(self) -> None:
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if line.startswith("retry:"):
                self.ready.set()
            if line.startswith("data: "):
                with self.arrived:
                    self.received.append((time.perf_counter(), json.loads(line[6:])))
                    self.arrived.notify_all()

    def wait_for(self, spec_id: str, after: int, timeout: float = 10) -> tuple[float, dict]:
        """The first event after the first `after` that names `spec_id`."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for when, data in self.received[after:]:
                    if spec_id in data.get("changed", ()):
                        return when, data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no event for {spec_id}")
                self.arrived.wait(left)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
        self.conn.close()
