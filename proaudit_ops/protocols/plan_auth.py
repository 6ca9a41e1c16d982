"""Saved plans are authenticated: the key that signs them, and their `planned` audit record.

The key is `proaudit_plan_key` from the settings (shared by operators who apply each other's
plans) or, when unset, `plan.key` in the tool's home: 32 random bytes (hex), generated on first
use, mode 0600, created atomically (a private temp file made with O_EXCL, hard-linked into place,
so a concurrent first use sees either no file or the whole key). A key file that is not a regular
file of ours, or that group or others can read, is refused. The key never appears in output.

`proaudit apply FILE` also requires that the plan's hash has a `planned` audit record: a plan
the guard never showed (and recorded) is not applied, whatever its MAC.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from proaudit_ops.errors import ConfigError, Refused

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from proaudit_ops.config import Settings
    from proaudit_ops.protocols.plan import Plan

KEY_FILE = "plan.key"
_KEY_BYTES = 32
_MAX_KEY_FILE_BYTES = 4096


def settings_plan_key(settings: Settings) -> bytes:
    """The configured key, or the home's key file (created on first use)."""
    configured = settings.proaudit_plan_key
    if configured is not None:
        value = configured.get_secret_value().strip()
        if len(value) < 16:
            raise ConfigError("proaudit_plan_key is too short (at least 16 characters)")
        return value.encode("utf-8")
    return home_plan_key(settings.home())


def home_plan_key(home: Path) -> bytes:
    path = Path(home) / KEY_FILE
    if not os.path.lexists(path):
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder for the plan key {path.parent}: {exc.strerror}") from None
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (secrets.token_hex(_KEY_BYTES) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot create the plan key {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _read_key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(
            f"cannot open the plan key {path}: {exc.strerror}",
            hint="it must be a regular file of yours (not a symlink), mode 0600",
        ) from None
    try:
        info = os.fstat(fd)
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"the plan key {path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise ConfigError(f"the plan key {path} belongs to another user (uid {info.st_uid})")
        if mode & 0o077:
            raise ConfigError(
                f"the plan key {path} is readable or writable by others (mode {mode:04o})",
                hint=f"run: chmod 600 {path} (and consider making new plans: the key may have leaked)",
            )
        raw = os.read(fd, _MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    key = raw.strip()
    if len(raw) > _MAX_KEY_FILE_BYTES or len(key) < 32:
        raise ConfigError(
            f"the plan key {path} is not a proaudit key",
            hint="remove it to have a new one generated (plans signed with it can no longer be applied)",
        )
    return key


def require_planned_record(engine: Engine, plan: Plan) -> None:
    """Refuse a plan whose hash has no `planned` audit record (it was never shown and recorded)."""
    from sqlalchemy import select

    from proaudit_ops.audit.records import AuditRecord
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import ops_audit_log as T

    digest = plan.plan_hash
    stmt = (
        select(T)
        .where(T.c.outcome == "planned", T.c.action == plan.action)
        .where(T.c.after.contains(f'"plan_hash":"{digest}"'))  # canonical JSON: no spaces
        .order_by(T.c.seq.desc())
        .limit(20)
    )
    with read_only(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    for row in rows:
        after = AuditRecord.from_row(row).after
        if isinstance(after, dict) and after.get("plan_hash") == digest:
            return
    raise Refused(
        f"the plan {digest[:12]} has no `planned` audit record: it was not made by proaudit's change guard here",
        hint="make the plan with --plan-out against this database (if its record went to the audit "
        "fallback file while the database was down, run `proaudit audit ship` first)",
    )
