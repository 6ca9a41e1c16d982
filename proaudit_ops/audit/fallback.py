"""The JSONL fallback file: where audit records go while the database is unreachable.

Append-only, one canonical JSON record per line, its own hash chain (seq from 1, genesis
prev_hash), fsync after every write, mode 0600. Writers hold an exclusive flock on the file;
a writer that finds the path renamed under it (a concurrent `ship`) reopens the new file.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from proaudit_ops.audit.canonical import GENESIS_HASH
from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.errors import DependencyUnavailable

_CHUNK = 65536


@contextmanager
def locked_fd(path: Path, *, create: bool) -> Iterator[int | None]:
    """An fd on `path` under an exclusive flock (None when it does not exist and create=False)."""
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    created = False
    while True:
        fd: int | None
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
                created = True
            except FileExistsError:
                fd = _open_existing(path, flags)
        else:
            fd = _open_existing(path, flags)
        if fd is None:
            if create:
                continue
            yield None
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        mine = os.fstat(fd)
        if now is None or (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
            os.close(fd)  # renamed by a ship while we waited: take the new file
            created = False
            continue
        break
    try:
        os.fchmod(fd, 0o600)
        if created:
            fsync_dir(path.parent)
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _open_existing(path: Path, flags: int) -> int | None:
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        return None


def fsync_dir(directory: Path) -> None:
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def append_record(path: Path, build: Callable[[int, str], AuditRecord]) -> AuditRecord:
    """Chain a new record onto the file: build(seq, prev_hash) -> record; write; fsync."""
    with locked_fd(path, create=True) as fd:
        assert fd is not None
        seq, prev_hash = _tail(fd, path)
        record = build(seq, prev_hash)
        data = (record.to_json_line() + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        return record


def _tail(fd: int, path: Path) -> tuple[int, str]:
    """(next seq, prev hash) from the file's last line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 1, GENESIS_HASH
    last = _last_line(fd, size)
    if last is None:
        raise DependencyUnavailable(
            f"cannot write the audit record: the fallback file {path} ends in a partial line",
            hint=f"run `proaudit audit verify --file {path}` and move the file aside",
        )
    try:
        data = json.loads(last)
        return int(data["seq"]) + 1, str(data["hash"])
    except (ValueError, KeyError, TypeError):
        raise DependencyUnavailable(
            f"cannot write the audit record: the last line of the fallback file {path} is damaged",
            hint=f"run `proaudit audit verify --file {path}` and move the file aside",
        ) from None


def _last_line(fd: int, size: int) -> str | None:
    """The last complete line, or None when the file does not end with a newline."""
    if os.pread(fd, 1, size - 1) != b"\n":
        return None
    buf = b""
    pos = size - 1  # the final newline is left out
    while pos > 0:
        step = min(_CHUNK, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        cut = buf.rfind(b"\n")
        if cut != -1:
            return buf[cut + 1 :].decode("utf-8", errors="replace")
    return buf.decode("utf-8", errors="replace")


def read_lines(path: Path) -> list[str]:
    """All lines of the file, without their newlines (a final partial line is kept as is)."""
    with path.open("rb") as handle:
        raw = handle.read()
    if not raw:
        return []
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def iter_lines(path: Path) -> Iterator[str]:
    """The lines of the file one at a time (constant memory), like read_lines."""
    with path.open("rb") as handle:
        for raw in handle:
            yield raw.decode("utf-8", errors="replace").removesuffix("\n")
