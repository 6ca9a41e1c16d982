"""Read the audit log: filtered listing and single records. Works in a read-only transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.db.schema import ops_audit_log as T
from proaudit_ops.errors import UsageError

MAX_LIMIT = 10_000


def query(
    conn: Connection,
    *,
    since: datetime | None = None,
    incident: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    limit: int = 50,
) -> list[AuditRecord]:
    """The newest `limit` matching records, oldest first (like `tail`).

    `actor` matches anywhere in "operator (os:user)"; `incident` and `target` match exactly.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT}, got {limit}")
    stmt = select(T)
    if since is not None:
        if since.tzinfo is None:
            raise UsageError("since must be timezone-aware (UTC)")
        stmt = stmt.where(T.c.ts >= since)
    if incident:
        stmt = stmt.where(T.c.incident == incident)
    if actor:
        stmt = stmt.where(T.c.actor.contains(actor, autoescape=True))
    if target:
        stmt = stmt.where(T.c.target == target)
    rows = conn.execute(stmt.order_by(T.c.seq.desc()).limit(limit)).mappings().all()
    return [AuditRecord.from_row(row) for row in reversed(rows)]


def get(conn: Connection, seq: int) -> AuditRecord | None:
    row = conn.execute(select(T).where(T.c.seq == seq)).mappings().first()
    return None if row is None else AuditRecord.from_row(row)


def head(conn: Connection) -> AuditRecord | None:
    """The newest record (the chain's head)."""
    row = conn.execute(select(T).order_by(T.c.seq.desc()).limit(1)).mappings().first()
    return None if row is None else AuditRecord.from_row(row)
