"""Reading the log: filters, order, single records; in read-only transactions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from proaudit_ops.audit import AuditContext, AuditEntry, AuditLog, get, head, query
from proaudit_ops.db.engine import read_only
from proaudit_ops.errors import UsageError
from proaudit_ops.timeutil import utcnow


def test_filters_and_order(engine: Engine, log: AuditLog, context: AuditContext) -> None:
    other = AuditLog(
        AuditContext("chidi", "chidi-os", "h", "proaudit dunning retry", incident="INC-8"),
        log.fallback_path,
    )
    log.append_standalone(engine, AuditEntry("payments.fix", "ref-1", "applied"))
    other.append_standalone(engine, AuditEntry("dunning.retry", "sub-1", "failed"))
    log.append_standalone(engine, AuditEntry("payments.fix", "ref-2", "planned"))
    log.append_standalone(engine, AuditEntry("payments.fix", "ref-1", "refused"))

    with read_only(engine) as conn:
        everything = query(conn, limit=50)
        assert [r.seq for r in everything] == [1, 2, 3, 4]
        assert [r.seq for r in query(conn, limit=2)] == [3, 4]
        assert [r.seq for r in query(conn, target="ref-1", limit=50)] == [1, 4]
        assert [r.seq for r in query(conn, incident="INC-8", limit=50)] == [2]
        assert [r.seq for r in query(conn, actor="chidi", limit=50)] == [2]
        assert [r.seq for r in query(conn, actor="bola", limit=50)] == [1, 3, 4]
        assert [r.seq for r in query(conn, actor="%", limit=50)] == []
        assert query(conn, since=utcnow() + timedelta(minutes=1), limit=50) == []
        assert len(query(conn, since=utcnow() - timedelta(hours=24), limit=50)) == 4
        record = get(conn, 2)
        assert record is not None
        assert (record.action, record.outcome, record.actor) == (
            "dunning.retry",
            "failed",
            "chidi (os:chidi-os)",
        )
        assert get(conn, 99) is None
        newest = head(conn)
        assert newest is not None
        assert newest.seq == 4


def test_limit_is_bounded(sqlite_engine: Engine) -> None:
    with read_only(sqlite_engine) as conn, pytest.raises(UsageError):
        query(conn, limit=0)
