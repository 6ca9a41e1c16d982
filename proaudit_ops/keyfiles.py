"""Private key files in the tool's home: the plan key and the audit checkpoint key.

One way to make and read them. A key file holds 32 random bytes as hex. It is generated on first
use with mode 0600 and created atomically: a private temp file made with O_EXCL, then hard-linked
into place, so a concurrent first use sees either no file or the whole key. When it is read, it
must be a regular file (not a symlink) owned by us that group and others can neither read nor
write. Anything else is a ConfigError (exit 2) naming the file and the fix. A key never appears
in a message.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from proaudit_ops.errors import ConfigError

KEY_BYTES = 32
MAX_KEY_FILE_BYTES = 4096
MIN_KEY_CHARS = 32  # a generated key has 64 hex characters; anything much shorter was not made by us


def home_key(path: Path, what: str) -> bytes:
    """The key in `path`, generated first if there is none. `what` names it ("plan key")."""
    if not os.path.lexists(path):
        create_key_file(path, what)
    key = read_key_file(path, what)
    assert key is not None
    return key


def create_key_file(path: Path, what: str) -> None:
    """Make a new random key at `path` unless one exists (first writer wins, atomically)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder for the {what} {path.parent}: {exc.strerror}") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot create the {what} {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def read_key_file(path: Path, what: str, *, missing_ok: bool = False) -> bytes | None:
    """The key in `path`, checked; None when it does not exist and `missing_ok`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigError(f"the {what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot open the {what} {path}: {exc.strerror}",
            hint="it must be a regular file of yours (not a symlink), mode 0600",
        ) from None
    try:
        info = os.fstat(fd)
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"the {what} {path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise ConfigError(
                f"the {what} {path} belongs to another user (uid {info.st_uid})", hint="it must be yours, mode 0600"
            )
        if mode & 0o077:
            raise ConfigError(
                f"the {what} {path} is readable or writable by others (mode {mode:04o})",
                hint=f"run: chmod 600 {path} (and consider it leaked: make a new one)",
            )
        raw = os.read(fd, MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    key = raw.strip()
    if len(raw) > MAX_KEY_FILE_BYTES or len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            f"the {what} {path} is not a proaudit key (empty, too short or too long)",
            hint="move it aside to have a new one generated (what it signed can no longer be checked)",
        )
    return key


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
