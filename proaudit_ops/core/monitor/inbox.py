"""The database's key metrics besides the success rate: the webhook inbox and the dunning records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from proaudit_ops.core.monitor.levels import nearest_rank
from proaudit_ops.timeutil import as_utc

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass(frozen=True)
class InboxFigures:
    received: int  # events received in the window
    failed: int  # of those, status failed
    waiting: int  # of those, still not processed (status received)
    p95_seconds: float | None  # received_at -> processed_at; a waiting event counts with its age so far


@dataclass(frozen=True)
class DunningFigures:
    recovered: int
    closed: int  # recovered + exhausted (active ones have not ended yet)

    @property
    def conversion_pct(self) -> float | None:
        return round(100.0 * self.recovered / self.closed, 2) if self.closed else None


def inbox_figures(conn: Connection, start: datetime, now: datetime) -> InboxFigures:
    from sqlalchemy import select

    from proaudit_ops.db.schema import webhook_events as we

    query = select(we.c.status, we.c.received_at, we.c.processed_at).where(we.c.received_at > start)
    durations: list[float] = []
    failed = waiting = received = 0
    # Only the three columns of the window's events are read: the window is minutes, not a day.
    for status, received_at, processed_at in conn.execute(query):
        received += 1
        arrived = as_utc(received_at)
        assert arrived is not None
        if status == "failed":
            failed += 1
        elif processed_at is not None:
            done = as_utc(processed_at)
            assert done is not None
            durations.append(max(0.0, (done - arrived).total_seconds()))
        else:
            # Not processed yet: it has taken at least this long. Leaving it out would let a stalled
            # inbox look fast.
            waiting += 1
            durations.append(max(0.0, (now - arrived).total_seconds()))
    p95 = round(nearest_rank(durations, 0.95), 3) if durations else None
    return InboxFigures(received=received, failed=failed, waiting=waiting, p95_seconds=p95)


def dunning_figures(conn: Connection, start: datetime) -> DunningFigures:
    from sqlalchemy import func, select

    from proaudit_ops.db.schema import dunning_records as dr

    query = (
        select(dr.c.status, func.count())
        .where(dr.c.created_at > start, dr.c.status.in_(("recovered", "exhausted")))
        .group_by(dr.c.status)
    )
    counts = {status: int(n) for status, n in conn.execute(query).all()}
    return DunningFigures(recovered=counts.get("recovered", 0), closed=sum(counts.values()))
