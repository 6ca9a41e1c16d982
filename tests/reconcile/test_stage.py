"""The staging table and its checkpoint (both databases): a page and the checkpoint commit together."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from proaudit_ops.core.reconcile.stage import Stage, ensure_tables
from proaudit_ops.db.schema import ops_reconcile_rows
from proaudit_ops.errors import Refused
from proaudit_ops.timeutil import utcnow


def _rows(run_id: str, n: int) -> list[tuple[Any, ...]]:
    now = utcnow()
    return [
        (run_id, "tx", i, f"R-{i}", "success", 100, 100, "NGN", now, "Approved", "card", None, "{}") for i in range(n)
    ]


def test_a_run_taken_over_by_a_newer_one_writes_nothing_more(engine: Any) -> None:
    ensure_tables(engine)
    stage = Stage(engine, lock_timeout_ms=2000, statement_timeout_ms=15000)
    end = utcnow()
    first = stage.start(end - timedelta(days=1), end, "api")
    first = stage.write_page(first, _rows(first.id, 3), cursor="c1", phase="transactions")
    assert stage.unfinished(end - timedelta(days=1) + timedelta(seconds=5), end + timedelta(seconds=5)) == first
    second = stage.start(end - timedelta(days=1), end, "api")  # abandons the first (same window length)
    with pytest.raises(Refused):
        stage.write_page(first, _rows(first.id, 3), cursor="c2", phase="transactions")
    stage.write_page(second, _rows(second.id, 2), cursor=None, phase="refunds")
    with engine.connect() as conn:
        staged = conn.execute(select(ops_reconcile_rows.c.run_id, func.count()).group_by("run_id")).all()
    assert staged == [(second.id, 2)]  # the first run's rows went with it; its refused page never landed
