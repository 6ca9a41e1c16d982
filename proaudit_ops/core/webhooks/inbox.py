"""Reading the app's webhook inbox (read-only: the app owns it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping


@dataclass(frozen=True)
class InboxEvent:
    id: str
    event_type: str
    reference: str | None
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime
    raw_body: bytes


def failed_events(conn: Connection, since: datetime, event_type: str | None) -> list[InboxEvent]:
    from sqlalchemy import select

    from proaudit_ops.db.schema import webhook_events as we

    query = select(we).where(we.c.status == "failed", we.c.received_at >= since).order_by(we.c.received_at)
    if event_type:
        query = query.where(we.c.event_type == event_type)
    return [_event(row) for row in conn.execute(query).mappings()]


def statuses(conn: Connection, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    from sqlalchemy import select

    from proaudit_ops.db.schema import webhook_events as we

    out: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(select(we.c.id, we.c.status, we.c.last_error).where(we.c.id.in_(chunk))):
            out[row.id] = (row.status, row.last_error)
    return out


def processed_references(conn: Connection, references: list[str]) -> set[str]:
    from sqlalchemy import select

    from proaudit_ops.db.schema import webhook_events as we

    found: set[str] = set()
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        query = select(we.c.reference).where(
            we.c.reference.in_(chunk),
            we.c.status == "processed",
            we.c.event_type == "charge.success",
        )
        found.update(r for (r,) in conn.execute(query) if r)
    return found


def _event(m: RowMapping) -> InboxEvent:
    return InboxEvent(
        id=m["id"],
        event_type=m["event_type"],
        reference=m["reference"],
        status=m["status"],
        attempts=int(m["attempts"] or 0),
        last_error=m["last_error"],
        received_at=m["received_at"],
        raw_body=bytes(m["raw_body"]),
    )
