"""The change guard: the only way a command changes the billing database (DESIGN.md).

plan (rows locked NOWAIT, then rolled back) -> show -> dry-run | confirm -> apply in a new
transaction: re-lock the same rows, refuse a stale plan (any column of a row as read and shown
changed: protocols/staleness.py), `UPDATE ... WHERE key AND guards RETURNING`, exactly the
expected rows per statement (a plan builder that selects by a business key states `expect=`),
or, for a new row (`RowChange.insert`), `INSERT ... RETURNING` once no row has its key or any
of its guard values (a payment reference already recorded by the app refuses the plan),
touched columns set to the time of apply, the `applied` audit record in the same transaction.
Every refusal, abort and failure leaves an audit record of its own.

Saved plans: protocols/saved_plan.py, plan_auth.py (authentication), plan_schema.py (values).
The live guard (protocols/live_guard.py) runs before anything else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.schema import Column

from proaudit_ops.audit.canonical import plain_json
from proaudit_ops.audit.log import AuditLog
from proaudit_ops.audit.records import AuditEntry, AuditRecord
from proaudit_ops.crashpoints import crash_point
from proaudit_ops.db.engine import LOCK_NOT_AVAILABLE, Timeouts, is_lock_timeout, is_postgres, seconds, write_tx
from proaudit_ops.errors import DependencyUnavailable, ProauditError, Refused, UsageError
from proaudit_ops.protocols.live_guard import LIVE_KEY_REFUSAL, MODE_CONFLICT_HINT
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.protocols.plan_schema import PROTECTED_TABLES, change_table, coerce, validate_plan
from proaudit_ops.protocols.staleness import RowCountMismatch, count_mismatch, refuse_if_stale
from proaudit_ops.timeutil import utcnow

__all__ = ["LIVE_KEY_REFUSAL", "NO_TTY_REFUSAL", "PROTECTED_TABLES", "ApplyOptions", "ChangeGuard", "GuardResult"]

NO_TTY_REFUSAL = "no terminal to confirm on: pass --yes to apply, or --dry-run to look"


@dataclass(frozen=True)
class ApplyOptions:
    dry_run: bool = False
    assume_yes: bool = False
    interactive: bool = False
    live_key: bool = False
    live_flag: bool = False
    plan_out: Path | None = None
    mode_conflict: str | None = None  # the key's mode contradicts the configured mode: refuse all


@dataclass(frozen=True)
class GuardResult:
    outcome: str  # applied | planned | aborted | nothing
    plan: Plan | None
    rows: list[dict[str, Any]] = field(default_factory=list)  # the rows after the UPDATE
    audit_seq: int | None = None  # None when the record went to the fallback file
    plan_file: Path | None = None
    prompted: bool = False  # confirm() ran (and showed the plan): do not render it again
    # The changes `rows` came from, when not the plan's own: an intent's row changes are computed
    # from the external answer (a charge's payment row, the period it bought).
    changes: tuple[RowChange, ...] = ()

    @property
    def applied_changes(self) -> tuple[RowChange, ...]:
        return self.changes or (self.plan.changes if self.plan is not None else ())


class _UpdateMismatch(RowCountMismatch):
    """An UPDATE matched other than one row: rolled back, audited as `failed`."""


class _Rollback(Exception):
    """Leaves the planning transaction without committing anything."""


class ChangeGuard:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        *,
        lock_timeout_ms: int,
        statement_timeout_ms: int,
        plan_key: Callable[[], bytes] | None = None,
        paystack: Callable[[], Any] | None = None,
    ) -> None:
        self.engine = engine
        self.paystack = paystack  # for plans with an external step (protocols/intents.py)
        self.audit = audit
        self.lock_timeout_ms = lock_timeout_ms
        self.statement_timeout_ms = statement_timeout_ms
        self._plan_key = plan_key

    # -- for plan builders ----------------------------------------------------------------

    def lock_rows(
        self, conn: Connection, table: Table, where: ColumnElement[bool], *, expect: int | None = None
    ) -> list[dict[str, Any]]:
        """The rows matching `where`, locked (FOR UPDATE NOWAIT on PostgreSQL), in key order.

        `expect`: the number of rows `where` must match (a business key such as a reference names
        one row); any other count -> Refused "matched N rows, expected M" (exit 4).
        A row locked by another session, or a lock wait past lock_timeout -> Refused (exit 4).
        SQLite has no row locks: the write transaction (BEGIN IMMEDIATE) is already exclusive.
        """
        stmt = select(table).where(where).order_by(*table.primary_key.columns)
        if is_postgres(conn):
            stmt = stmt.with_for_update(nowait=True)
        try:
            rows = [dict(row) for row in conn.execute(stmt).mappings().all()]
        except DBAPIError as exc:
            if is_lock_timeout(exc):
                waited = Timeouts.of(self.lock_timeout_ms, self.statement_timeout_ms).lock_ms
                raise Refused(
                    f"timed out waiting for a lock after {seconds(waited)} "
                    f"on {table.name} (rows where {self._where_text(table, where)})",
                    hint="another session holds a lock on the table or the rows: retry in a moment "
                    "(pg_stat_activity shows who holds it)",
                ) from None
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise Refused(
                    f"{table.name} row(s) where {self._sql(where)} are locked by another session",
                    hint="someone else is changing them right now: retry in a moment "
                    "(pg_stat_activity shows who holds the lock)",
                ) from None
            raise
        if expect is not None and len(rows) != expect:
            raise count_mismatch(table.name, self._where_text(table, where), len(rows), expect)
        return rows

    # -- the protocol ---------------------------------------------------------------------

    def execute(
        self,
        build: Callable[[Connection], Plan],
        options: ApplyOptions,
        confirm: Callable[[Plan], bool],
        *,
        action: str = "change",
    ) -> GuardResult:
        """Plan, show (via confirm), apply. `action` names audit records made before a plan."""
        self._refuse_live(options, action)
        if options.plan_out is not None:
            from proaudit_ops.files import check_output_path

            check_output_path(options.plan_out, "--plan-out")  # before any lock is taken
        plan = self._plan(build, action)
        if not plan.changes:
            return GuardResult("nothing", plan)
        return self._decide(plan, options, confirm, saved=False)

    def apply_saved(self, plan: Plan, options: ApplyOptions, confirm: Callable[[Plan], bool]) -> GuardResult:
        """`proaudit apply FILE`: the reviewed plan, refused if any of its rows changed since.

        The plan must fit the schema (exit 2, before any transaction) and have a `planned` audit
        record (refused otherwise: the guard never showed it).
        """
        from proaudit_ops.protocols.plan_auth import require_planned_record

        self._refuse_live(options, plan.action, plan)
        validate_plan(plan)
        if not plan.changes:
            return GuardResult("nothing", plan)
        try:
            require_planned_record(self.engine, plan)
        except Refused as exc:
            self._record(plan.action, plan, "refused", error=exc.message)
            raise
        return self._decide(plan, options, confirm, saved=True)

    def record_refusal(self, action: str, error: str, extra: dict[str, Any]) -> None:
        self._record(action, None, "refused", error=error, extra=extra)

    def plan_key(self) -> bytes:
        if self._plan_key is None:
            raise UsageError("saved plans need a plan key: this change guard was built without one")
        return self._plan_key()

    def plan_sql(self, plan: Plan) -> list[str]:
        """The exact UPDATE statements, with literal values (RETURNING left out), for --show-sql."""
        out: list[str] = []
        for change in plan.changes:
            table = change_table(change)
            if change.insert:
                values = {**self._coerce_all(table, {**change.key, **change.new_values})}
                out.append(self._sql(insert(table).values(values).values({n: func.now() for n in change.touch})) + ";")
                continue
            stmt = (
                update(table)
                .where(self._key_where(table, change), self._guard_where(table, change))
                .values(self._coerce_all(table, change.new_values))
                .values({name: func.now() for name in change.touch})  # the time of apply
            )
            out.append(self._sql(stmt) + ";")
        return out

    # -- steps ----------------------------------------------------------------------------

    def _refuse_live(self, options: ApplyOptions, action: str, plan: Plan | None = None) -> None:
        if options.mode_conflict is not None:
            self._record(action, plan, "refused", error=options.mode_conflict)
            raise Refused(options.mode_conflict, hint=MODE_CONFLICT_HINT)
        if options.live_key and not options.live_flag:
            self._record(action, plan, "refused", error=LIVE_KEY_REFUSAL)
            raise Refused(LIVE_KEY_REFUSAL, hint="rerun with --live if you mean to change production")

    def _plan(self, build: Callable[[Connection], Plan], action: str) -> Plan:
        plan: Plan | None = None
        try:
            with self._tx() as conn:
                plan = build(conn)
                raise _Rollback  # no prompt while holding locks; nothing is written while planning
        except _Rollback:
            pass
        except Refused as exc:
            self._record(action, None, "refused", error=exc.message)
            raise
        except DependencyUnavailable as exc:
            self._record(action, None, "failed", error=exc.message)
            raise
        assert plan is not None
        for change in plan.changes:
            change_table(change)
        return plan

    def _decide(
        self, plan: Plan, options: ApplyOptions, confirm: Callable[[Plan], bool], *, saved: bool
    ) -> GuardResult:
        if options.dry_run or options.plan_out is not None:
            if saved:
                self._check_fresh(plan)
            plan_file = plan.write(options.plan_out, self.plan_key()) if options.plan_out is not None else None
            record = self._record(
                plan.action,
                plan,
                "planned",
                extra={"dry_run": options.dry_run, "plan_file": plan_file, "saved_plan": saved},
            )
            return GuardResult("planned", plan, [], _seq(record), plan_file)
        if not options.assume_yes and not options.interactive:
            self._record(plan.action, plan, "refused", error=NO_TTY_REFUSAL)
            raise Refused(NO_TTY_REFUSAL)
        if options.assume_yes:
            return self._go(plan)
        try:
            confirmed = confirm(plan)
        except KeyboardInterrupt:
            self._record(plan.action, plan, "aborted", error="interrupted at the prompt")
            raise
        if not confirmed:
            record = self._record(plan.action, plan, "aborted", error="not confirmed")
            return GuardResult("aborted", plan, [], _seq(record), prompted=True)
        return dataclasses.replace(self._go(plan), prompted=True)

    def _go(self, plan: Plan) -> GuardResult:
        """Apply the plan; one with an external step (a refund) runs the intent protocol instead."""
        if plan.external is None:
            return self._apply(plan)
        from proaudit_ops.protocols.intents import run_plan

        return run_plan(self, plan)

    def _check_fresh(self, plan: Plan) -> None:
        """Lock and compare the plan's rows, then roll back (a saved plan's dry run)."""
        try:
            with self._tx() as conn:
                self._lock_and_compare(conn, plan)
                raise _Rollback
        except _Rollback:
            pass
        except Refused as exc:
            self._record(plan.action, plan, "refused", error=exc.message)
            raise
        except DependencyUnavailable as exc:
            self._record(plan.action, plan, "failed", error=exc.message)
            raise

    def _apply(self, plan: Plan) -> GuardResult:
        try:
            with self._tx() as conn:
                self._lock_and_compare(conn, plan)
                now = utcnow()  # one time of apply for every touched column
                rows = [self._update(conn, change, now) for change in plan.changes]
                crash_point("guard:after_update")
                after = [plain_json(row) for row in rows]
                record = self.audit.append(
                    conn,
                    AuditEntry(
                        action=plan.action,
                        target=plan.target,
                        outcome="applied",
                        before=[change.before for change in plan.changes],
                        after=after,
                    ),
                )
                crash_point("guard:after_audit")
                crash_point("guard:before_commit")
        except _UpdateMismatch as exc:
            self._record(plan.action, plan, "failed", error=exc.message)
            raise Refused(exc.message, hint=exc.hint) from None
        except Refused as exc:
            self._record(plan.action, plan, "refused", error=exc.message)
            raise
        except BaseException as exc:
            # Database errors, a failed audit append, an interrupt: nothing was committed.
            message = exc.message if isinstance(exc, ProauditError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
            outcome = "aborted" if isinstance(exc, KeyboardInterrupt) else "failed"
            try:
                self._record(plan.action, plan, outcome, error=message)
            except Exception as audit_exc:  # pragma: no cover - both the table and the file failed
                exc.add_note(f"the failure could not be audited either: {audit_exc}")
            raise
        crash_point("guard:after_commit")
        return GuardResult("applied", plan, rows, record.seq)

    def _lock_and_compare(self, conn: Connection, plan: Plan) -> list[dict[str, Any]]:
        """Re-lock every planned row by key (NOWAIT) and refuse if any column changed since planning."""
        current: list[dict[str, Any]] = []
        for change in plan.changes:
            table = change_table(change)
            if change.insert:
                self._refuse_existing(conn, table, change, stale=True)
                current.append({})
                continue
            where = self._key_where(table, change)
            found = self.lock_rows(conn, table, where)
            if not found:
                raise Refused(
                    f"stale plan: {change.table} {change.label} no longer exists (key {plain_json(change.key)})",
                    hint="make a new plan",
                )
            if len(found) != 1:
                raise count_mismatch(table.name, self._where_text(table, where), len(found), 1, stale=True)
            current.append(found[0])
        crash_point("guard:after_lock")
        for change, row in zip(plan.changes, current, strict=True):
            if not change.insert:
                refuse_if_stale(change, row)
        return current

    def _refuse_existing(self, conn: Connection, table: Table, change: RowChange, *, stale: bool) -> None:
        """A new row must not exist yet: none with its key, none with any of its guard values."""
        conditions = [self._key_where(table, change)]
        conditions += [_equals(table.c[name], value) for name, value in change.guards.items()]
        where = or_(*conditions)
        found = self.lock_rows(conn, table, where)
        if found:
            prefix = "stale plan: " if stale else ""
            raise Refused(
                f"{prefix}{change.table} already has a row where {self._where_text(table, where)}: "
                f"{change.label} was not added again",
                hint="someone recorded it since the plan was made: look at the row, then make a new plan",
            )

    def _insert(self, conn: Connection, change: RowChange, now: Any) -> dict[str, Any]:
        table = change_table(change)
        self._refuse_existing(conn, table, change, stale=False)
        values = {
            **self._coerce_all(table, {**change.key, **change.new_values}),
            **dict.fromkeys(change.touch, now),
        }
        stmt = insert(table).values(values)
        try:
            if conn.dialect.insert_returning:
                return dict(conn.execute(stmt.returning(*table.columns)).mappings().one())
            conn.execute(stmt)  # pragma: no cover - every supported backend has RETURNING
        except IntegrityError as exc:  # another session added it between the check and the INSERT
            raise _UpdateMismatch(
                f"{change.table} {change.label} could not be added: {str(exc.orig).splitlines()[0]}",
                hint="someone recorded it at the same moment: look at the row, then make a new plan",
            ) from None
        return self.lock_rows(conn, table, self._key_where(table, change), expect=1)[0]  # pragma: no cover

    def _update(self, conn: Connection, change: RowChange, now: Any) -> dict[str, Any]:
        if change.insert:
            return self._insert(conn, change, now)
        table = change_table(change)
        where = and_(self._key_where(table, change), self._guard_where(table, change))
        values = {**self._coerce_all(table, change.new_values), **dict.fromkeys(change.touch, now)}
        stmt = update(table).where(where).values(values)
        if conn.dialect.update_returning:
            rows = [dict(r) for r in conn.execute(stmt.returning(*table.columns)).mappings()]
            count = len(rows)
        else:  # pragma: no cover - every supported backend has RETURNING
            count = conn.execute(stmt).rowcount
            rows = self.lock_rows(conn, table, self._key_where(table, change))
        if count != 1:
            mismatch = count_mismatch(table.name, self._where_text(table, where), count, 1)
            raise _UpdateMismatch(
                f"{mismatch.message} (the UPDATE of {change.table} {change.label} was rolled back)",
                hint="the row changed under the plan; make a new plan",
            )
        return rows[0]

    # -- for the intent protocol (protocols/intents.py) ---------------------------------------

    def tx(self) -> Any:
        """A write transaction with this guard's timeouts."""
        return self._tx()

    def lock_and_compare(self, conn: Connection, plan: Plan) -> list[dict[str, Any]]:
        return self._lock_and_compare(conn, plan)

    def update_row(self, conn: Connection, change: RowChange, now: Any) -> dict[str, Any]:
        """One guarded UPDATE (or INSERT of a new row); other than one row -> Refused (rolls back)."""
        try:
            return self._update(conn, change, now)
        except _UpdateMismatch as exc:
            raise Refused(exc.message, hint=exc.hint) from None

    def record(
        self,
        action: str,
        plan: Plan | None,
        outcome: str,
        *,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """A standalone audit record about a plan (refused, failed, unknown ...)."""
        return self._record(action, plan, outcome, error=error, extra=extra)

    # -- helpers --------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with write_tx(
            self.engine,
            lock_timeout_ms=self.lock_timeout_ms,
            statement_timeout_ms=self.statement_timeout_ms,
        ) as conn:
            yield conn

    def _record(
        self,
        action: str,
        plan: Plan | None,
        outcome: str,
        *,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> AuditRecord:
        after: dict[str, Any] = plan.summary() if plan is not None else {}
        if error is not None:
            after["error"] = error
        if extra:
            after.update(extra)
        entry = AuditEntry(
            action=action,
            target=plan.target if plan is not None else None,
            outcome=outcome,
            after=after,
        )
        return self.audit.append_standalone(self.engine, entry)

    def _key_where(self, table: Table, change: RowChange) -> ColumnElement[bool]:
        return and_(*(_equals(table.c[name], value) for name, value in change.key.items()))

    def _guard_where(self, table: Table, change: RowChange) -> ColumnElement[bool]:
        return and_(*(_equals(table.c[name], value) for name, value in change.guards.items()))

    def _coerce_all(self, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        return {name: coerce(table.c[name], value) for name, value in values.items()}

    def _where_text(self, table: Table, where: ColumnElement[bool]) -> str:
        """`reference = 'X'`: the condition as SQL, without the table prefix."""
        return self._sql(where).replace(f"{table.name}.", "")

    def _sql(self, clause: Any) -> str:
        try:
            return str(clause.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))
        except Exception:  # a type without a literal form: show the parameterised text
            return str(clause.compile(dialect=self.engine.dialect))


def _seq(record: AuditRecord) -> int | None:
    return record.seq if record.stored_in == "table" else None


def _equals(column: Column[Any], value: Any) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    condition: ColumnElement[bool] = column == coerce(column, value)
    return condition
