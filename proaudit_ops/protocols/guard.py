"""The change guard: the only way a command changes the billing database (DESIGN.md).

plan (rows locked NOWAIT, then rolled back) -> show -> dry-run | confirm -> apply in a new
transaction: re-lock the same rows, refuse a stale plan, `UPDATE ... WHERE key AND guards`
(RETURNING on PostgreSQL), exactly one row per change, the `applied` audit record in the same
transaction. Every refusal, abort and failure leaves an audit record of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    Table,
    and_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.schema import Column
from sqlalchemy.types import TypeDecorator

from proaudit_ops.audit.canonical import plain_json
from proaudit_ops.audit.log import AuditLog
from proaudit_ops.audit.records import AuditEntry, AuditRecord
from proaudit_ops.crashpoints import crash_point
from proaudit_ops.db.engine import LOCK_NOT_AVAILABLE, is_postgres, write_tx
from proaudit_ops.db.schema import metadata as billing_metadata
from proaudit_ops.errors import (
    DependencyUnavailable,
    ExitCode,
    ProauditError,
    Refused,
    UsageError,
)
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.timeutil import parse_iso

LIVE_KEY_REFUSAL = "a live Paystack key (sk_live_) is configured: add --live to change production data"
NO_TTY_REFUSAL = "no terminal to confirm on: pass --yes to apply, or --dry-run to look"
PROTECTED_TABLES = frozenset({"ops_audit_log"})


@dataclass(frozen=True)
class ApplyOptions:
    dry_run: bool = False
    assume_yes: bool = False
    interactive: bool = False
    live_key: bool = False
    live_flag: bool = False
    plan_out: Path | None = None


@dataclass(frozen=True)
class GuardResult:
    outcome: str  # applied | planned | aborted | nothing
    plan: Plan | None
    rows: list[dict[str, Any]] = field(default_factory=list)  # the rows after the UPDATE
    audit_seq: int | None = None  # None when the record went to the fallback file
    plan_file: Path | None = None
    prompted: bool = False  # confirm() ran (and showed the plan): do not render it again


class _RowCountMismatch(Refused):
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
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.lock_timeout_ms = lock_timeout_ms
        self.statement_timeout_ms = statement_timeout_ms

    # -- for plan builders ----------------------------------------------------------------

    def lock_rows(self, conn: Connection, table: Table, where: ColumnElement[bool]) -> list[dict[str, Any]]:
        """The rows matching `where`, locked (FOR UPDATE NOWAIT on PostgreSQL), in key order.

        A row locked by another session -> Refused naming the table and the condition (exit 4).
        SQLite has no row locks: the write transaction (BEGIN IMMEDIATE) is already exclusive.
        """
        stmt = select(table).where(where).order_by(*table.primary_key.columns)
        if is_postgres(conn):
            stmt = stmt.with_for_update(nowait=True)
        try:
            rows = conn.execute(stmt).mappings().all()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise Refused(
                    f"{table.name} row(s) where {self._sql(where)} are locked by another session",
                    hint="someone else is changing them right now: retry in a moment "
                    "(pg_stat_activity shows who holds the lock)",
                ) from None
            raise
        return [dict(row) for row in rows]

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
        self._refuse_live_key(options, action)
        plan = self._plan(build, action)
        if not plan.changes:
            return GuardResult("nothing", plan)
        return self._decide(plan, options, confirm, saved=False)

    def apply_saved(self, plan: Plan, options: ApplyOptions, confirm: Callable[[Plan], bool]) -> GuardResult:
        """`proaudit apply FILE`: the reviewed plan, refused if any of its rows changed since."""
        self._refuse_live_key(options, plan.action, plan)
        if not plan.changes:
            return GuardResult("nothing", plan)
        for change in plan.changes:
            self._table(change)  # an unknown table or column fails before anything else
        return self._decide(plan, options, confirm, saved=True)

    def plan_sql(self, plan: Plan) -> list[str]:
        """The exact UPDATE statements, with literal values (RETURNING left out), for --show-sql."""
        out: list[str] = []
        for change in plan.changes:
            table = self._table(change)
            stmt = (
                update(table)
                .where(self._key_where(table, change), self._guard_where(table, change))
                .values(self._coerce_all(table, change.new_values))
            )
            out.append(self._sql(stmt) + ";")
        return out

    # -- steps ----------------------------------------------------------------------------

    def _refuse_live_key(self, options: ApplyOptions, action: str, plan: Plan | None = None) -> None:
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
            self._table(change)
        return plan

    def _decide(
        self, plan: Plan, options: ApplyOptions, confirm: Callable[[Plan], bool], *, saved: bool
    ) -> GuardResult:
        if options.dry_run or options.plan_out is not None:
            if saved:
                self._check_fresh(plan)
            plan_file = plan.write(options.plan_out) if options.plan_out is not None else None
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
            return self._apply(plan)
        try:
            confirmed = confirm(plan)
        except KeyboardInterrupt:
            self._record(plan.action, plan, "aborted", error="interrupted at the prompt")
            raise
        if not confirmed:
            record = self._record(plan.action, plan, "aborted", error="not confirmed")
            return GuardResult("aborted", plan, [], _seq(record), prompted=True)
        return dataclasses.replace(self._apply(plan), prompted=True)

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
                rows = [self._update(conn, change) for change in plan.changes]
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
        except _RowCountMismatch as exc:
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
        """Re-lock every planned row by key (NOWAIT) and refuse if any changed since planning."""
        current: list[dict[str, Any]] = []
        for change in plan.changes:
            table = self._table(change)
            found = self.lock_rows(conn, table, self._key_where(table, change))
            if len(found) != 1:
                raise Refused(
                    f"stale plan: {change.table} {change.label} no longer exists (key {plain_json(change.key)})",
                    hint="make a new plan",
                )
            current.append(found[0])
        crash_point("guard:after_lock")
        for change, row in zip(plan.changes, current, strict=True):
            _refuse_if_stale(change, row)
        return current

    def _update(self, conn: Connection, change: RowChange) -> dict[str, Any]:
        table = self._table(change)
        where = and_(self._key_where(table, change), self._guard_where(table, change))
        stmt = update(table).where(where).values(self._coerce_all(table, change.new_values))
        if conn.dialect.update_returning:
            rows = [dict(r) for r in conn.execute(stmt.returning(*table.columns)).mappings()]
            count = len(rows)
        else:  # pragma: no cover - every supported backend has RETURNING
            count = conn.execute(stmt).rowcount
            rows = self.lock_rows(conn, table, self._key_where(table, change))
        if count != 1:
            raise _RowCountMismatch(
                f"expected to change 1 row of {change.table} ({change.label}) but the UPDATE "
                f"matched {count}: rolled back, nothing was changed",
                hint="the row changed under the plan; make a new plan",
            )
        return rows[0]

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

    def _table(self, change: RowChange) -> Table:
        table = billing_metadata.tables.get(change.table)
        if table is None:
            raise UsageError(f"the plan names an unknown table {change.table!r}")
        if table.name in PROTECTED_TABLES:
            raise Refused(f"{table.name} is append-only: no plan may change it")
        for name in (*change.key, *change.guards, *change.new_values):
            if name not in table.c:
                raise UsageError(f"the plan names an unknown column {table.name}.{name}")
        return table

    def _key_where(self, table: Table, change: RowChange) -> ColumnElement[bool]:
        return and_(*(_equals(table.c[name], value) for name, value in change.key.items()))

    def _guard_where(self, table: Table, change: RowChange) -> ColumnElement[bool]:
        return and_(*(_equals(table.c[name], value) for name, value in change.guards.items()))

    def _coerce_all(self, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        return {name: coerce(table.c[name], value) for name, value in values.items()}

    def _sql(self, clause: Any) -> str:
        try:
            return str(clause.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))
        except Exception:  # a type without a literal form: show the parameterised text
            return str(clause.compile(dialect=self.engine.dialect))


@dataclass(frozen=True)
class SavedPlanResult:
    """`proaudit apply FILE`: what the guard did with the saved plan (and its SQL if asked)."""

    file: Path
    guard: GuardResult
    sql: list[str] | None = None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.guard.outcome == "aborted" else ExitCode.OK


def apply_plan_file(
    guard: ChangeGuard,
    path: Path,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    show_sql: bool = False,
) -> SavedPlanResult:
    """Load a plan saved with --plan-out (refused if hand-edited), apply it (refused if stale)."""
    plan = Plan.load(path)
    result = guard.apply_saved(plan, options, confirm)
    sql = guard.plan_sql(plan) if show_sql else None
    return SavedPlanResult(Path(path), result, sql)


def _seq(record: AuditRecord) -> int | None:
    return record.seq if record.stored_in == "table" else None


def _equals(column: Column[Any], value: Any) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    condition: ColumnElement[bool] = column == coerce(column, value)
    return condition


def coerce(column: Column[Any], value: Any) -> Any:
    """A plan's JSON value back to what the column takes (ISO strings -> aware datetimes)."""
    if value is None:
        return None
    typ: Any = column.type
    if isinstance(typ, TypeDecorator):
        typ = typ.impl_instance
    where = f"{column.table.name}.{column.name}"
    if isinstance(typ, DateTime):
        if isinstance(value, str):
            parsed = parse_iso(value)
            if parsed is None:
                raise UsageError(f"plan value for {where} is not a time: {value!r}")
            return parsed
        raise UsageError(f"plan value for {where} is not an ISO time: {value!r}")
    if isinstance(typ, Boolean):
        if not isinstance(value, bool):
            raise UsageError(f"plan value for {where} is not a boolean: {value!r}")
        return value
    if isinstance(typ, Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"plan value for {where} is not an integer: {value!r}")
        return value
    if isinstance(typ, LargeBinary):
        raise UsageError(f"{where} is binary: the change guard does not change binary columns")
    return value


def _refuse_if_stale(change: RowChange, row: dict[str, Any]) -> None:
    """The row must still have its guard values, and the planned `before` of changed columns."""
    now = plain_json(row)
    checks: list[tuple[str, Any]] = list(change.guards.items())
    checks += [
        (name, change.before[name]) for name in change.new_values if name in change.before and name not in change.guards
    ]
    for name, planned in checks:
        if now.get(name) != planned:
            raise Refused(
                f"stale plan: {change.table} {change.label} changed since it was planned "
                f"({name}: {_show(planned)} -> {_show(now.get(name))})",
                hint="look at the row again and make a new plan",
            )


def _show(value: Any) -> str:
    return "NULL" if value is None else repr(value) if isinstance(value, str) else str(value)
