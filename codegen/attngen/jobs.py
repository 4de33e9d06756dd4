"""Building many specs on several CPUs: forked worker processes, each building a share.

A cold build of a folder spends most of its time checking shapes and emitting source, one
spec after another, in pure Python. One spec, the smallest file (every CPU but one waits
for it), is built in this process, which imports the checker's libraries (sympy,
networkx, Jinja) and compiles the templates; then forked workers, which inherit all of
that and start in milliseconds (a spawned process would import it all again, half a
second), build the rest, each an interleaved share
(`rest[i::n]`: variants sort beside their bases, so neighbours of like cost are spread).
Each sends back, per spec, what the caller's build function returned; the results are put
back in the order given, so errors and files stay in order and the output is the same
bytes as a build in one process (tests/test_jobs.py).

Forking is used only where it is safe: Linux (elsewhere system libraries may not survive a
fork; macOS's Python spawns), and no other thread in this process, Python's or native
(`serve` and `watch` build beside a server's threads; a test process may hold torch's).
A worker that dies (killed, out of memory) leaves its share to be built here. Ctrl-C
ends the workers silently (the signal's default) and this process with KeyboardInterrupt;
it is held back while the workers are forked (see _ctrl_c_held).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")

MIN_SHARE = 4  # specs per worker below which a fork costs more than it saves


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def workers_for(count: int, jobs: int | None) -> int:
    """How many processes build `count` specs: `jobs` (None: one per usable CPU), at most
    one per MIN_SHARE of the specs after the first, and 1 where forking is not safe."""
    wanted = usable_cpus() if jobs is None else jobs
    workers = min(wanted, (count - 1) // MIN_SHARE)
    return workers if workers > 1 and fork_is_safe() else 1


def fork_is_safe() -> bool:
    """Linux, and this process runs one thread (counted by the kernel: native ones too)."""
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            threads = next(line for line in status if line.startswith("Threads:"))
    except (OSError, StopIteration, UnicodeDecodeError):
        return False
    return threads.split()[1] == "1"


_BUILD: Callable[[list[Path]], dict[Path, Any]] | None = None  # what a forked worker runs


def _start_worker(build: Callable[[list[Path]], dict[Path, Any]]) -> None:
    global _BUILD
    _BUILD = build
    # Ctrl-C ends a worker as the signal's default does: at once, printing nothing (the
    # build's own process reports the interruption); ignored where the build ignores it
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held back by the fork


def _run_share(share: list[Path]) -> dict[Path, Any]:
    assert _BUILD is not None  # set by the pool's initializer in every worker
    return _BUILD(share)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # the build reports it
        return 0


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """SIGINT held back while the workers are forked, then delivered: Python runs its
    at-fork hooks (logging's, in this process) where a KeyboardInterrupt would be printed
    and dropped, and the build would go on."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def build_all(paths: list[Path], workers: int,
              build: Callable[[list[Path]], dict[Path, R]]) -> dict[Path, R]:
    """`build(paths)`'s results, in the order of `paths`: all built here when `workers` is
    1, else one here (the smallest file) and the rest shared among `workers` forked
    processes. Its results must pickle (they travel back); `build` itself is inherited by
    the fork."""
    if workers <= 1 or len(paths) < 2:
        return build(paths)
    # imports and compiles what every worker then inherits (see the module docstring)
    first = min(paths, key=_size)
    results = build([first])
    rest = [path for path in paths if path != first]
    if not fork_is_safe():  # the first build left a thread running
        return {**results, **build(rest)}
    shares = [rest[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(build,)) as pool:
        futures: list[Future | None] = []
        with _ctrl_c_held():  # the first submit forks the workers
            for share in shares:
                try:
                    futures.append(pool.submit(_run_share, share))
                except BrokenProcessPool:  # a worker died before this share was handed out
                    futures.append(None)
        for share, future in zip(shares, futures, strict=True):
            try:
                results.update(future.result() if future is not None else build(share))
            except BrokenProcessPool:  # a worker died: its share is built here
                results.update(build(share))
    return {path: results[path] for path in paths}
