"""Audit records: who ran what, against which target, what changed, and the hash chain.

The hash of a record is SHA-256 (hex) over the canonical JSON of every field except `hash`,
seq and prev_hash included. before/after/external_ids enter the hash as JSON values; the
database stores them as their canonical JSON text, so the stored bytes are exactly what was
hashed (`verify` also refuses a text that is not canonical). `ts` enters as ISO-8601 UTC with
microseconds (`2024-08-22T09:15:02.123456Z`).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proaudit_ops.audit.canonical import canonical_json, plain_json, sha256_hex, ts_iso
from proaudit_ops.timeutil import as_utc, parse_iso

# unknown: an external side effect whose result could not be determined (no answer, interrupted).
OUTCOMES = ("planned", "applied", "refused", "failed", "aborted", "unknown")

# Column widths of ops_audit_log (db/schema.py): longer values are cut before hashing.
_WIDTHS = {"actor": 200, "host": 200, "action": 100, "target": 200, "incident": 100}

HASHED_FIELDS = (
    "seq",
    "ts",
    "actor",
    "host",
    "command",
    "incident",
    "action",
    "target",
    "before",
    "after",
    "outcome",
    "external_ids",
    "prev_hash",
)


def fit(name: str, value: str | None) -> str | None:
    """Cut a value to its column's width (with an ellipsis) so PostgreSQL accepts it."""
    width = _WIDTHS.get(name)
    if value is None or width is None or len(value) <= width:
        return value
    return value[: width - 1] + "…"


@dataclass(frozen=True)
class AuditContext:
    """Who is acting, where, with which (already redacted) command line."""

    operator: str
    os_user: str
    host: str
    command: str
    incident: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.operator} (os:{self.os_user})"

    @classmethod
    def detect(cls, operator: str | None, command: str, incident: str | None = None) -> AuditContext:
        """Fill os_user and host from this machine; operator defaults to the OS user."""
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            os_user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
        return cls(
            operator=(operator or os_user).strip() or os_user,
            os_user=os_user,
            host=socket.gethostname() or "unknown",
            command=command,
            incident=incident,
        )


@dataclass(frozen=True)
class AuditEntry:
    """What a caller asks to record; the log adds who, when, where and the chain."""

    action: str
    target: str | None
    outcome: str
    before: Any = None
    after: Any = None
    external_ids: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}: {self.outcome!r}")
        if not self.action:
            raise ValueError("audit action must not be empty")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: datetime
    actor: str
    host: str
    command: str
    incident: str | None
    action: str
    target: str | None
    before: Any
    after: Any
    outcome: str
    external_ids: dict[str, Any] | None
    prev_hash: str
    hash: str
    # Where it was written: "table", or the fallback file's path. Not part of the hash.
    stored_in: str = field(default="table", compare=False)

    def payload(self) -> dict[str, Any]:
        """Every hashed field, JSON-able."""
        return record_payload(
            seq=self.seq,
            ts=self.ts,
            actor=self.actor,
            host=self.host,
            command=self.command,
            incident=self.incident,
            action=self.action,
            target=self.target,
            before=self.before,
            after=self.after,
            outcome=self.outcome,
            external_ids=self.external_ids,
            prev_hash=self.prev_hash,
        )

    def computed_hash(self) -> str:
        return record_hash(self.payload())

    def to_json_line(self) -> str:
        """One line of the fallback file (no newline)."""
        return canonical_json({**self.payload(), "hash": self.hash})

    def to_dict(self) -> dict[str, Any]:
        return {**self.payload(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, stored_in: str = "table") -> AuditRecord:
        """From a fallback-file line (raises KeyError/TypeError/ValueError when malformed)."""
        ts = parse_iso(data["ts"])
        if ts is None:
            raise ValueError("record has no ts")
        return cls(
            seq=int(data["seq"]),
            ts=ts,
            actor=str(data["actor"]),
            host=str(data["host"]),
            command=str(data["command"]),
            incident=data["incident"],
            action=str(data["action"]),
            target=data["target"],
            before=data["before"],
            after=data["after"],
            outcome=str(data["outcome"]),
            external_ids=data["external_ids"],
            prev_hash=str(data["prev_hash"]),
            hash=str(data["hash"]),
            stored_in=stored_in,
        )

    @classmethod
    def from_row(cls, row: Any) -> AuditRecord:
        """From an ops_audit_log row; JSON text that does not parse is kept as the raw text."""
        ts = as_utc(row["ts"])
        assert ts is not None
        return cls(
            seq=int(row["seq"]),
            ts=ts,
            actor=row["actor"],
            host=row["host"],
            command=row["command"],
            incident=row["incident"],
            action=row["action"],
            target=row["target"],
            before=_loads_lenient(row["before"]),
            after=_loads_lenient(row["after"]),
            outcome=row["outcome"],
            external_ids=_loads_lenient(row["external_ids"]),
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )


def record_payload(
    *,
    seq: int,
    ts: datetime | str,
    actor: str,
    host: str,
    command: str,
    incident: str | None,
    action: str,
    target: str | None,
    before: Any,
    after: Any,
    outcome: str,
    external_ids: Any,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": ts if isinstance(ts, str) else ts_iso(ts),
        "actor": actor,
        "host": host,
        "command": command,
        "incident": incident,
        "action": action,
        "target": target,
        "before": plain_json(before),
        "after": plain_json(after),
        "outcome": outcome,
        "external_ids": plain_json(external_ids),
        "prev_hash": prev_hash,
    }


def record_hash(payload: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(payload))


def _loads_lenient(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
