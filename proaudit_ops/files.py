"""Files named by the operator (--config, --file, plan files, --plan-out): read and written safely.

One place for the rules: a file we read must be a regular file (not a directory, a device, a FIFO
or a socket), is read with a documented size bound, and never blocks on open; a file we write must
go to a path whose parent is a directory. Every refusal is a one-line error naming the flag.
Keep this module free of heavy imports: config loading uses it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from proaudit_ops.errors import ProauditError, UsageError

KIB = 1024
MIB = 1024 * KIB
MAX_CONFIG_BYTES = 1 * MIB  # a config file
MAX_PLAN_BYTES = 16 * MIB  # a saved plan (a bulk plan of thousands of rows)
MAX_BODY_BYTES = 1 * MIB  # a webhook body (Paystack's are a few KiB)
MAX_JSON_DEPTH = 64  # nesting of a JSON document we parse (plans, bodies)


def _refuse(error: type[ProauditError], what: str, path: str, why: str, hint: str | None) -> ProauditError:
    return error(f"{what} {path!r}: {why}", hint=hint)


def read_regular_file(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int,
    error: type[ProauditError] = UsageError,
    hint: str | None = None,
) -> bytes:
    """The bytes of a regular file, at most `max_bytes`; anything else is `error` (exit 2).

    `what` names the input in the message ("--file", "plan file", "config file").
    Opened with O_NONBLOCK so a FIFO cannot hang the command; checked with fstat on the open
    descriptor (no race between the check and the read).
    """
    text = os.fspath(path)
    if text == "" or text.strip() == "":
        raise error(f"{what}: the path is empty", hint=hint)
    expanded = os.path.expanduser(text)
    try:
        fd = os.open(expanded, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _refuse(error, what, text, "no such file", hint) from None
    except NotADirectoryError:
        raise _refuse(error, what, text, "a part of the path is a file, not a directory", hint) from None
    except IsADirectoryError:
        raise _refuse(error, what, text, "is a directory, not a file", hint) from None
    except OSError as exc:
        raise _refuse(error, what, text, exc.strerror or str(exc), hint) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _refuse(error, what, text, "is a directory, not a file", hint)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(error, what, text, f"is not a regular file ({_kind(info.st_mode)})", hint)
        if info.st_size > max_bytes:
            raise _refuse(error, what, text, f"is larger than {_size(max_bytes)} ({_size(info.st_size)})", hint)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(64 * KIB, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while we read it
                raise _refuse(error, what, text, f"is larger than {_size(max_bytes)}", hint)
        return b"".join(chunks)
    except OSError as exc:
        raise _refuse(error, what, text, exc.strerror or str(exc), hint) from None
    finally:
        os.close(fd)


def read_text_file(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int,
    error: type[ProauditError] = UsageError,
    hint: str | None = None,
) -> str:
    """`read_regular_file`, decoded as UTF-8 (a file that is not text is refused by name)."""
    raw = read_regular_file(path, what, max_bytes=max_bytes, error=error, hint=hint)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(error, what, os.fspath(path), "is not UTF-8 text", hint) from None


def check_output_path(path: str | os.PathLike[str], what: str, *, error: type[ProauditError] = UsageError) -> Path:
    """A path we may write a new file to: not empty, not a directory or device, parent a directory.

    The parent folder is not created here: a typo in a folder name should not create folders.
    """
    text = os.fspath(path)
    if text.strip() == "":
        raise error(f"{what}: the path is empty")
    target = Path(os.path.expanduser(text))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise _refuse(error, what, text, "a part of the path is a file, not a directory", None) from None
    except OSError as exc:
        raise _refuse(error, what, text, exc.strerror or str(exc), None) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else _kind(info.st_mode)
        raise _refuse(error, what, text, f"is {kind}, not a file", None)
    parent = target.parent
    try:
        pinfo = os.stat(parent)
    except FileNotFoundError:
        raise _refuse(error, what, text, f"the folder {str(parent)!r} does not exist", None) from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise _refuse(error, what, text, "a part of the path is a file, not a directory", None) from None
        raise _refuse(error, what, text, exc.strerror or str(exc), None) from None
    if not stat.S_ISDIR(pinfo.st_mode):
        raise _refuse(error, what, text, "a part of the path is a file, not a directory", None)
    return target


def parse_json(
    text: str | bytes,
    what: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[ProauditError] = UsageError,
    hint: str | None = None,
) -> Any:
    """json.loads with a bound on nesting: a document nested deeper than `max_depth` is refused.

    The input is already bounded in size (read_regular_file); json's own recursion limit turns a
    pathological nesting into RecursionError, which is refused like any deep document.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{what}: JSON nested too deeply (at most {max_depth} levels)", hint=hint) from None
    except ValueError as exc:
        raise error(f"{what}: not valid JSON ({exc})", hint=hint) from None
    if _depth(value) > max_depth:
        raise error(f"{what}: JSON nested too deeply (at most {max_depth} levels)", hint=hint)
    return value


def _depth(value: Any) -> int:
    """The nesting depth of a parsed JSON value, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    if n >= MIB:
        return f"{n / MIB:.0f} MiB" if n % MIB == 0 else f"{n / MIB:.1f} MiB"
    if n >= KIB:
        return f"{n // KIB} KiB"
    return f"{n} bytes"
