"""The current incident: a small file in the tool's home naming the open incident of one database.

`incident open` writes it and `incident close` removes it; the runtime reads it so that every later
command tags its audit records without `--incident` (precedence: --incident > PROAUDIT_INCIDENT >
this file). The file also names the database it belongs to (a digest of its URL, never the URL), so
an incident practised on the sandbox never tags production records, nor the other way round.
Kept free of heavy imports: every command that writes an audit record reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from proaudit_ops.errors import ConfigError
from proaudit_ops.files import read_text_file

if TYPE_CHECKING:
    from proaudit_ops.config import Settings

FILE_NAME = "current-incident"
MAX_FILE_BYTES = 4096
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class CurrentIncident:
    id: str
    database: str  # database_tag() of the database the incident lives in


def current_path(settings: Settings) -> Path:
    return settings.home() / FILE_NAME


def database_tag(settings: Settings) -> str:
    """Which database an incident belongs to, without writing its URL (it may hold a password)."""
    if settings.is_sandbox:
        return "sandbox:" + hashlib.sha256(str(settings.sandbox_db_path()).encode()).hexdigest()[:16]
    if settings.database_url is None:  # Paystack-only commands: no database to keep an incident in
        return "db:unset"
    url = settings.effective_database_url()
    return "db:" + hashlib.sha256(url.encode()).hexdigest()[:16]


def read_current(settings: Settings) -> CurrentIncident | None:
    """The file's incident (any database), or None when there is none."""
    path = current_path(settings)
    if not path.exists():
        return None
    hint = f"run `proaudit incident close`, or delete {path}"
    text = read_text_file(path, "current incident file", max_bytes=MAX_FILE_BYTES, error=ConfigError, hint=hint)
    try:
        data = json.loads(text)
        incident, database = str(data["id"]), str(data["database"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"the current incident file {path} is not what proaudit wrote", hint=hint) from None
    if not ID_RE.fullmatch(incident):
        raise ConfigError(f"the current incident file {path} names a malformed incident id", hint=hint)
    return CurrentIncident(incident, database)


def current_incident_id(settings: Settings) -> str | None:
    """The current incident of the configured database (the runtime's fallback tag)."""
    current = read_current(settings)
    if current is None or current.database != database_tag(settings):
        return None
    return current.id


def set_current(settings: Settings, incident: str) -> Path:
    """Write the file atomically (a reader sees the old incident or the new one, never half)."""
    path = current_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"id": incident, "database": database_tag(settings)}) + "\n"
    write_atomically(path, body, mode=0o600)
    return path


def clear_current(settings: Settings, incident: str) -> bool:
    """Remove the file if it names this incident of this database; whether it did."""
    current = read_current(settings)
    if current is None or current.id != incident or current.database != database_tag(settings):
        return False
    try:
        current_path(settings).unlink()
    except FileNotFoundError:
        return False
    return True


def write_atomically(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write a temporary file beside `path`, fsync it, rename it over `path`, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
