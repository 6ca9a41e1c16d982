"""Staging Paystack's rows in the billing database, page by page, with the checkpoint in the same commit.

A page's rows and the run's counters/cursor commit together: after a crash (SIGKILL included) the
table holds exactly the pages the checkpoint counts, so `--resume` continues from the next page.
PostgreSQL gets the rows through COPY, SQLite through one executemany per page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import Refused
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

STAGED_COLUMNS = (
    "run_id",
    "kind",
    "paystack_id",
    "reference",
    "status",
    "amount",
    "requested_amount",
    "currency",
    "paid_at",
    "gateway_response",
    "channel",
    "transaction_id",
    "metadata",
)
StagedRow = tuple[Any, ...]  # in STAGED_COLUMNS order


@dataclass(frozen=True)
class RunState:
    id: str
    window_from: datetime
    window_to: datetime
    source: str
    state: str  # staging | staged | done
    phase: str  # transactions | refunds | compared
    cursor: str | None
    pages: int
    rows: int


def ensure_tables(engine: Engine) -> None:
    """The tool's reconcile tables, created on first use (an existing billing database has none yet)."""
    from proaudit_ops.db.schema import ops_reconcile_rows, ops_reconcile_runs

    ops_reconcile_runs.create(engine, checkfirst=True)
    ops_reconcile_rows.create(engine, checkfirst=True)


def _state(row: Any) -> RunState:
    return RunState(
        id=row.id,
        window_from=row.window_from,
        window_to=row.window_to,
        source=row.source,
        state=row.state,
        phase=row.phase,
        cursor=row.cursor,
        pages=int(row.pages),
        rows=int(row.rows),
    )


class Stage:
    def __init__(self, engine: Engine, *, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
        self.engine = engine
        self._limits = {"lock_timeout_ms": lock_timeout_ms, "statement_timeout_ms": statement_timeout_ms}

    def _tx(self) -> Any:
        from proaudit_ops.db.engine import write_tx

        return write_tx(self.engine, **self._limits)

    def _unfinished(self, conn: Connection, window_from: datetime, window_to: datetime) -> list[Any]:
        """Unfinished runs of a window as long as this one, newest first.

        Same length, not same bounds: `--since 24h` moves with the clock, and a resumed run keeps
        the window it started with (a `--date` window is the same day either way).
        """
        from sqlalchemy import select

        from proaudit_ops.db.schema import UTCDateTime
        from proaudit_ops.db.schema import ops_reconcile_runs as runs

        length = window_to - window_from
        rows = conn.execute(select(runs).where(runs.c.state != "done").order_by(runs.c.started_at.desc())).all()
        convert = UTCDateTime().process_result_value
        same = []
        for row in rows:
            start, end = convert(row.window_from, conn.dialect), convert(row.window_to, conn.dialect)
            if start is not None and end is not None and end - start == length:
                same.append(row)
        return same

    def unfinished(self, window_from: datetime, window_to: datetime) -> RunState | None:
        """The latest unfinished run of a window as long as this one (what --resume continues)."""
        with self.engine.connect() as conn:
            rows = self._unfinished(conn, window_from, window_to)
        return _state(rows[0]) if rows else None

    def start(self, window_from: datetime, window_to: datetime, source: str) -> RunState:
        """A new run; unfinished runs of a window this long are abandoned (their staged rows dropped)."""
        from sqlalchemy import delete

        from proaudit_ops.db.schema import ops_reconcile_rows as staged
        from proaudit_ops.db.schema import ops_reconcile_runs as runs

        now = utcnow()
        run_id = str(uuid.uuid4())
        with self._tx() as conn:
            old = [r.id for r in self._unfinished(conn, window_from, window_to)]
            if old:
                conn.execute(delete(staged).where(staged.c.run_id.in_(old)))
                conn.execute(delete(runs).where(runs.c.id.in_(old)))
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    window_from=window_from,
                    window_to=window_to,
                    source=source,
                    state="staging",
                    phase="transactions",
                    cursor=None,
                    pages=0,
                    rows=0,
                    started_at=now,
                    updated_at=now,
                )
            )
        return RunState(run_id, window_from, window_to, source, "staging", "transactions", None, 0, 0)

    def write_page(
        self, run: RunState, rows: Sequence[StagedRow], *, cursor: str | None, phase: str, pages: int = 1
    ) -> RunState:
        """Stage `pages` pages' rows and move the checkpoint past them, in one transaction."""
        from sqlalchemy import text, update

        from proaudit_ops.db.engine import is_postgres
        from proaudit_ops.db.schema import ops_reconcile_runs as runs

        pages, count = run.pages + pages, run.rows + len(rows)
        with self._tx() as conn:
            if is_postgres(conn):
                # No fsync wait per page: a commit lost in a server crash loses its rows and its
                # checkpoint together, and --resume pages again from the checkpoint before it.
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            moved = conn.execute(
                update(runs)
                .where(runs.c.id == run.id, runs.c.state == "staging")
                .values(cursor=cursor, phase=phase, pages=pages, rows=count, updated_at=utcnow())
            )
            if moved.rowcount != 1:  # rolled back with the page: nothing of this run is left half-written
                raise Refused(
                    f"reconcile run {run.id[:8]} was taken over: another reconcile of a window this long started",
                    hint="let the other run finish (or rerun this one alone)",
                )
            if rows:
                _insert(conn, rows)
        return RunState(run.id, run.window_from, run.window_to, run.source, run.state, phase, cursor, pages, count)

    def set_phase(self, run: RunState, phase: str, *, state: str | None = None) -> RunState:
        from sqlalchemy import update

        from proaudit_ops.db.schema import ops_reconcile_runs as runs

        new_state = state or run.state
        values: dict[str, Any] = {"phase": phase, "cursor": None, "state": new_state, "updated_at": utcnow()}
        with self._tx() as conn:
            conn.execute(update(runs).where(runs.c.id == run.id).values(**values))
        if phase == "compare":
            self.analyze()
        return RunState(run.id, run.window_from, run.window_to, run.source, new_state, phase, None, run.pages, run.rows)

    def analyze(self) -> None:
        """Fresh planner statistics after staging (autovacuum has not seen the pages yet): without them
        PostgreSQL plans the comparison as if the staging table were empty."""
        from sqlalchemy import text

        from proaudit_ops.db.engine import is_postgres

        if not is_postgres(self.engine):
            return
        with self.engine.connect() as conn:
            conn.execute(text("ANALYZE ops_reconcile_rows"))
            conn.commit()

    def finish(self, run: RunState) -> None:
        """Done: the run's staged rows are dropped (the result has been computed from them)."""
        from sqlalchemy import delete, update

        from proaudit_ops.db.schema import ops_reconcile_rows as staged
        from proaudit_ops.db.schema import ops_reconcile_runs as runs

        with self._tx() as conn:
            conn.execute(delete(staged).where(staged.c.run_id == run.id))
            now = utcnow()
            conn.execute(
                update(runs)
                .where(runs.c.id == run.id)
                .values(state="done", phase="compared", updated_at=now, finished_at=now)
            )


def _insert(conn: Connection, rows: Sequence[StagedRow]) -> None:
    from proaudit_ops.db.engine import is_postgres

    if is_postgres(conn):
        raw = conn.connection.driver_connection
        assert raw is not None
        columns = ", ".join(STAGED_COLUMNS)
        with raw.cursor() as cur, cur.copy(f"COPY ops_reconcile_rows ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    from proaudit_ops.db.schema import ops_reconcile_rows as staged

    conn.execute(staged.insert(), [dict(zip(STAGED_COLUMNS, row, strict=True)) for row in rows])
