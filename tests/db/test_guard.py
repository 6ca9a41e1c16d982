"""The change guard on both databases: dry-run, apply, refusals, aborts, the audit record."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text, update

from proaudit_ops.audit import AuditEntry, AuditLog, AuditRecord, verify_chain
from proaudit_ops.db.engine import make_engine, read_only
from proaudit_ops.db.schema import payment_transactions as pt
from proaudit_ops.errors import DatabaseUnavailable, Refused
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.timeutil import utcnow

YES = ApplyOptions(assume_yes=True)
Builder = Callable[..., Callable[[Connection], Plan]]
Payments = Callable[[Engine, list[str]], dict[str, dict[str, Any]]]
Records = Callable[[Engine], list[AuditRecord]]


def never(_plan: Plan) -> bool:
    raise AssertionError("the guard must not prompt here")


def outcomes(records: list[AuditRecord]) -> list[str]:
    return [r.outcome for r in records]


def chain_ok(engine: Engine) -> bool:
    with read_only(engine) as conn:
        return verify_chain(conn).ok


def test_dry_run_writes_only_a_planned_record(
    engine: Engine,
    guard: ChangeGuard,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    refs = seed(engine, 2)
    before = payments(engine, refs)
    result = guard.execute(builder(guard, refs), ApplyOptions(dry_run=True), never)
    assert result.outcome == "planned"
    assert result.plan is not None
    assert result.plan.expected_rows == 2
    assert payments(engine, refs) == before
    log = records(engine)
    assert outcomes(log) == ["planned"]
    assert log[0].after["plan_hash"] == result.plan.plan_hash
    assert log[0].after["dry_run"] is True
    assert log[0].target == "bulk"
    assert result.audit_seq == log[0].seq


def test_apply_changes_exactly_the_planned_rows_and_audits_them(
    engine: Engine,
    guard: ChangeGuard,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    refs = seed(engine, 3)
    bystander = seed(engine, 1)
    untouched = payments(engine, bystander)
    result = guard.execute(builder(guard, refs[:2]), YES, never)
    assert result.outcome == "applied"
    assert [row["status"] for row in result.rows] == ["success", "success"]
    now = payments(engine, refs)
    assert {ref: now[ref]["status"] for ref in refs} == {
        refs[0]: "success",
        refs[1]: "success",
        refs[2]: "pending",
    }
    assert now[refs[0]]["paid_at"] is not None
    assert now[refs[0]]["paid_at"].tzinfo is not None
    assert payments(engine, bystander) == untouched
    log = records(engine)
    assert outcomes(log) == ["applied"]
    applied = log[0]
    assert applied.seq == result.audit_seq
    assert {row["reference"] for row in applied.before} == set(refs[:2])
    assert all(row["status"] == "pending" for row in applied.before)
    assert all(row["status"] == "success" for row in applied.after)
    assert applied.actor == "alice (os:alice-os)"
    assert applied.incident == "INC-42"
    assert chain_ok(engine)


class FailingAppliedAudit(AuditLog):
    """The audit append of the `applied` record fails: the UPDATE must roll back with it."""

    def append(self, conn: Connection, entry: AuditEntry) -> AuditRecord:
        if entry.outcome == "applied":
            conn.execute(text("SELECT 1"))
            raise RuntimeError("audit table is full")
        return super().append(conn, entry)


def test_failed_audit_append_rolls_back_the_update(
    engine: Engine,
    audit_log: AuditLog,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    failing = FailingAppliedAudit(audit_log.context, audit_log.fallback_path)
    guard = ChangeGuard(engine, failing, lock_timeout_ms=500, statement_timeout_ms=5000)
    refs = seed(engine, 2)
    before = payments(engine, refs)
    with pytest.raises(RuntimeError, match="audit table is full"):
        guard.execute(builder(guard, refs), YES, never)
    assert payments(engine, refs) == before
    log = records(engine)
    assert outcomes(log) == ["failed"]
    assert "audit table is full" in log[0].after["error"]


def test_row_changed_between_plan_and_apply_is_refused_as_stale(
    engine: Engine,
    guard: ChangeGuard,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    refs = seed(engine, 1)

    def confirm_while_someone_else_changes_it(plan: Plan) -> bool:
        with engine.begin() as other:
            other.execute(update(pt).where(pt.c.reference == refs[0]).values(status="failed"))
        return True

    options = ApplyOptions(interactive=True)
    with pytest.raises(Refused) as caught:
        guard.execute(builder(guard, refs), options, confirm_while_someone_else_changes_it)
    message = caught.value.message
    assert message.startswith("stale plan: payment_transactions")
    assert refs[0] in message
    assert "status: 'pending' -> 'failed'" in message
    assert payments(engine, refs)[refs[0]]["status"] == "failed"
    assert outcomes(records(engine)) == ["refused"]


def test_no_terminal_and_no_yes_is_refused(
    engine: Engine,
    guard: ChangeGuard,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    refs = seed(engine, 1)
    with pytest.raises(Refused, match="no terminal to confirm on") as caught:
        guard.execute(builder(guard, refs), ApplyOptions(interactive=False), never)
    assert caught.value.exit_code == 4
    assert payments(engine, refs)[refs[0]]["status"] == "pending"
    assert outcomes(records(engine)) == ["refused"]


def test_live_key_without_live_flag_is_refused_before_planning(
    engine: Engine, guard: ChangeGuard, seed: Any, payments: Payments, records: Records
) -> None:
    refs = seed(engine, 1)

    def build(_conn: Connection) -> Plan:
        raise AssertionError("no plan may be built with a live key and no --live")

    with pytest.raises(Refused, match="live Paystack key"):
        guard.execute(build, ApplyOptions(assume_yes=True, live_key=True), never, action="payments.fix")
    log = records(engine)
    assert outcomes(log) == ["refused"]
    assert log[0].action == "payments.fix"
    assert payments(engine, refs)[refs[0]]["status"] == "pending"


def test_live_key_with_live_flag_applies(
    engine: Engine, guard: ChangeGuard, seed: Any, builder: Builder, payments: Payments
) -> None:
    refs = seed(engine, 1)
    options = ApplyOptions(assume_yes=True, live_key=True, live_flag=True)
    assert guard.execute(builder(guard, refs), options, never).outcome == "applied"
    assert payments(engine, refs)[refs[0]]["status"] == "success"


def test_declined_confirmation_aborts(
    engine: Engine,
    guard: ChangeGuard,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    refs = seed(engine, 2)
    shown: list[Plan] = []

    def decline(plan: Plan) -> bool:
        shown.append(plan)
        return False

    result = guard.execute(builder(guard, refs), ApplyOptions(interactive=True), decline)
    assert result.outcome == "aborted"
    assert len(shown) == 1
    assert shown[0].expected_rows == 2
    assert {row["status"] for row in payments(engine, refs).values()} == {"pending"}
    assert outcomes(records(engine)) == ["aborted"]


def test_interrupt_at_the_prompt_is_audited_and_propagates(
    engine: Engine, guard: ChangeGuard, seed: Any, builder: Builder, records: Records
) -> None:
    refs = seed(engine, 1)

    def interrupt(_plan: Plan) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        guard.execute(builder(guard, refs), ApplyOptions(interactive=True), interrupt)
    log = records(engine)
    assert outcomes(log) == ["aborted"]
    assert "interrupted" in log[0].after["error"]


def test_confirmed_interactively_applies(
    engine: Engine, guard: ChangeGuard, seed: Any, builder: Builder, payments: Payments
) -> None:
    refs = seed(engine, 1)
    result = guard.execute(builder(guard, refs), ApplyOptions(interactive=True), lambda _p: True)
    assert result.outcome == "applied"
    assert payments(engine, refs)[refs[0]]["status"] == "success"


def test_empty_plan_is_nothing_and_not_audited(
    engine: Engine, guard: ChangeGuard, seed: Any, builder: Builder, records: Records
) -> None:
    refs = seed(engine, 1, status="success")
    result = guard.execute(builder(guard, refs), YES, never)
    assert result.outcome == "nothing"
    assert records(engine) == []


def test_saved_plan_applies_once_then_is_stale(
    engine: Engine,
    guard: ChangeGuard,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
    tmp_path: Path,
) -> None:
    refs = seed(engine, 2)
    (tmp_path / "plans").mkdir()
    plan_file = tmp_path / "plans" / "fix.json"
    result = guard.execute(builder(guard, refs), ApplyOptions(plan_out=plan_file), never)
    assert result.outcome == "planned"
    assert result.plan_file == plan_file
    assert stat.S_IMODE(os.stat(plan_file).st_mode) == 0o600
    assert {row["status"] for row in payments(engine, refs).values()} == {"pending"}

    loaded = Plan.load(plan_file, guard.plan_key())
    assert loaded == result.plan
    assert loaded.plan_hash == result.plan.plan_hash

    dry = guard.apply_saved(loaded, ApplyOptions(dry_run=True), never)
    assert dry.outcome == "planned"
    applied = guard.apply_saved(loaded, YES, never)
    assert applied.outcome == "applied"
    now = payments(engine, refs)
    assert {row["status"] for row in now.values()} == {"success"}
    assert now[refs[0]]["paid_at"].isoformat(timespec="microseconds").endswith(".123456+00:00")

    with pytest.raises(Refused, match="stale plan"):
        guard.apply_saved(Plan.load(plan_file, guard.plan_key()), YES, never)
    assert outcomes(records(engine)) == ["planned", "planned", "applied", "refused"]
    assert chain_ok(engine)


def test_hand_edited_plan_file_is_refused(
    engine: Engine, guard: ChangeGuard, seed: Any, builder: Builder, tmp_path: Path
) -> None:
    refs = seed(engine, 1)
    plan_file = tmp_path / "fix.json"
    guard.execute(builder(guard, refs), ApplyOptions(plan_out=plan_file), never)
    edited = plan_file.read_text().replace('"status": "success"', '"status": "refunded"')
    assert edited != plan_file.read_text()
    plan_file.write_text(edited)
    with pytest.raises(Refused, match="plan file was changed"):
        Plan.load(plan_file, guard.plan_key())


def test_plan_sql_shows_literal_update_statements(
    engine: Engine, guard: ChangeGuard, seed: Any, builder: Builder
) -> None:
    refs = seed(engine, 1)
    result = guard.execute(builder(guard, refs), ApplyOptions(dry_run=True), never)
    assert result.plan is not None
    (sql,) = guard.plan_sql(result.plan)
    assert sql.startswith("UPDATE payment_transactions SET")
    assert "status='success'" in sql
    assert "WHERE payment_transactions.id = '" in sql
    assert "payment_transactions.status = 'pending'" in sql
    assert sql.endswith(";")


def test_the_audit_table_cannot_be_planned(engine: Engine, guard: ChangeGuard) -> None:
    def build(_conn: Connection) -> Plan:
        change = RowChange(
            table="ops_audit_log",
            key={"seq": 1},
            guards={},
            new_values={"outcome": "applied"},
            before={},
            label="seq 1",
        )
        return Plan("audit.tamper", "no", (change,), utcnow(), None)

    with pytest.raises(Refused, match="append-only"):
        guard.execute(build, YES, never)


def test_unreachable_database_fails_and_audits_to_the_fallback_file(audit_log: AuditLog, builder: Builder) -> None:
    dead = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/x", connect_timeout_s=1)
    guard = ChangeGuard(dead, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    with pytest.raises(DatabaseUnavailable):
        guard.execute(builder(guard, ["ref-x"]), YES, never, action="payments.fix")
    lines = audit_log.fallback_path.read_text().splitlines()
    assert len(lines) == 1
    assert '"outcome":"failed"' in lines[0]
    dead.dispose()


# -- PostgreSQL only: row locks, concurrency, a row count other than 1 ---------------------


def test_row_locked_by_another_session_is_refused_quickly(
    pg_engine: Engine, audit_log: AuditLog, seed: Any, builder: Builder, records: Records
) -> None:
    guard = ChangeGuard(pg_engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    refs = seed(pg_engine, 1)
    with pg_engine.connect() as other:
        other.execute(
            text("SELECT * FROM payment_transactions WHERE reference = :r FOR UPDATE"),
            {"r": refs[0]},
        )
        started = time.monotonic()
        with pytest.raises(Refused) as caught:
            guard.execute(builder(guard, refs), YES, never)
        elapsed = time.monotonic() - started
        other.rollback()
    assert elapsed < 2.0
    assert caught.value.exit_code == 4
    assert "payment_transactions" in caught.value.message
    assert refs[0] in caught.value.message
    assert "locked by another session" in caught.value.message
    assert outcomes(records(pg_engine)) == ["refused"]


def test_lock_taken_between_plan_and_apply_is_refused(
    pg_engine: Engine, audit_log: AuditLog, seed: Any, builder: Builder, payments: Payments
) -> None:
    guard = ChangeGuard(pg_engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    refs = seed(pg_engine, 1)
    with pg_engine.connect() as other:

        def lock_then_confirm(_plan: Plan) -> bool:
            other.execute(
                text("SELECT 1 FROM payment_transactions WHERE reference = :r FOR UPDATE"),
                {"r": refs[0]},
            )
            return True

        with pytest.raises(Refused, match="locked by another session"):
            guard.execute(builder(guard, refs), ApplyOptions(interactive=True), lock_then_confirm)
        other.rollback()
    assert payments(pg_engine, refs)[refs[0]]["status"] == "pending"


def test_two_operators_applying_the_same_fix_at_once_apply_it_once(
    pg_engine: Engine,
    audit_log: AuditLog,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    refs = seed(pg_engine, 2)
    both_planned = threading.Barrier(2, timeout=10)
    first_planned = threading.Event()
    results: list[str] = []
    errors: list[BaseException] = []

    def operator() -> None:
        guard = ChangeGuard(pg_engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)

        def confirm(_plan: Plan) -> bool:
            first_planned.set()  # the planning transaction is over: its locks are gone
            both_planned.wait()  # both operators looked at the same plan; now both say yes
            return True

        try:
            results.append(guard.execute(builder(guard, refs), ApplyOptions(interactive=True), confirm).outcome)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=operator) for _ in range(2)]
    threads[0].start()
    assert first_planned.wait(10)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == ["applied"]
    assert len(errors) == 1
    assert isinstance(errors[0], Refused)
    assert "stale plan" in str(errors[0]) or "locked by another session" in str(errors[0])
    assert {row["status"] for row in payments(pg_engine, refs).values()} == {"success"}
    assert sorted(outcomes(records(pg_engine))) == ["applied", "refused"]
    assert chain_ok(pg_engine)


def test_update_matching_no_row_rolls_back_and_is_audited_as_failed(
    pg_engine: Engine,
    audit_log: AuditLog,
    seed: Any,
    builder: Builder,
    payments: Payments,
    records: Records,
) -> None:
    guard = ChangeGuard(pg_engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    refs = seed(pg_engine, 2)
    with pg_engine.begin() as conn:  # the second row's UPDATE silently matches nothing
        conn.execute(
            text(
                "CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF OLD.reference = '" + refs[1] + "' THEN RETURN NULL; END IF; RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER skip_row BEFORE UPDATE ON payment_transactions FOR EACH ROW EXECUTE FUNCTION skip_row()"
            )
        )
    with pytest.raises(Refused, match=f"matched 0 rows, expected 1.*payment_transactions {refs[1]} was rolled back"):
        guard.execute(builder(guard, refs), YES, never)
    assert {row["status"] for row in payments(pg_engine, refs).values()} == {"pending"}
    assert outcomes(records(pg_engine)) == ["failed"]
