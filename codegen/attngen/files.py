"""Reading and writing single files safely.

- `read_regular` reads a regular file only, and at most a given size: a FIFO, a device or a
  folder at the path is never read (no hang on a FIFO, no endless read of /dev/zero).
- `write_file` replaces a file atomically: the data goes to a hidden temporary file
  `.NAME.XXXXXXXX.tmp` next to it (X: 8 of a-z, 0-9, _), which is then renamed over NAME,
  so a reader sees the old file or the new one, never a part. A new file gets the mode an
  ordinary write gives (0666 less the umask); a rewritten regular file keeps its mode.
- A writer killed mid-write leaves its temporary file behind; `remove_leftovers` deletes
  such files later. Each writer holds an exclusive lock (flock) on its temporary file
  while it lives, so a running writer's file is never taken for a leftover.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Container
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: an open file cannot be deleted there)
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"  # as tempfile.mkstemp names its files
_TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


class NotRegular(OSError):
    """The path holds something other than a regular file (see `kind`)."""


def kind(mode: int) -> str:
    """What a file of this st_mode is, for messages: 'a folder', 'a FIFO', ..."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def read_regular(path: Path | str, limit: int, *, follow: bool = True) -> bytes:
    """At most `limit` + 1 bytes of the regular file at `path` (more than `limit` bytes back
    means the file is larger). With follow=False a symbolic link is not followed.

    Raises NotRegular for anything but a regular file, OSError when it cannot be read."""
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | (0 if follow else _NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow and os.path.islink(path):  # O_NOFOLLOW's ELOOP
            raise NotRegular(exc.errno, "a symbolic link", str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(0, kind(mode), str(path))
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Replace `path` by a file holding `data`, atomically (see the module docstring).
    Raises OSError; no temporary file is left behind then."""
    try:
        old = os.lstat(path)
        mode = stat.S_IMODE(old.st_mode) if stat.S_ISREG(old.st_mode) else None
    except OSError:
        mode = None
    tmp, fd = _create_temp(path)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fcntl is None:  # Windows renames no open file
            os.close(fd)
            fd = -1
        os.replace(tmp, path)  # while locked: no one takes it for a leftover meanwhile
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


def _create_temp(path: Path) -> tuple[Path, int]:
    """A new, empty, locked temporary file next to `path` (mode 0666 less the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    for _ in range(100):
        token = "".join(_ALPHABET[b % len(_ALPHABET)] for b in os.urandom(8))
        tmp = path.parent / f".{path.name}.{token}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink == 0:  # taken for a leftover before we locked it
                os.close(fd)
                continue
        return tmp, fd
    raise FileExistsError(f"no free temporary name next to {path}")


def remove_leftovers(folder: Path, names: Container[str] | None = None) -> None:
    """Delete the temporary files that killed writes of `names` (None: of any name) left
    in `folder`: only regular files named like write_file's, only those no writer holds.
    Problems are ignored: a leftover that stays does no harm."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        if match and (names is None or match["name"] in names):
            _remove_if_abandoned(entry.path)


def _remove_if_abandoned(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer: fails
        os.unlink(path)
    except OSError:
        return
    finally:
        os.close(fd)
