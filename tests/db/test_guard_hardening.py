"""Issue 11 at the guard's level, on both databases: row counts, timeouts, plan keys, the live guard."""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, MetaData, UniqueConstraint, insert, select, text

from proaudit_ops.audit import AuditLog
from proaudit_ops.db.engine import make_engine, read_only
from proaudit_ops.db.schema import metadata
from proaudit_ops.db.schema import payment_transactions as pt
from proaudit_ops.errors import ConfigError, DatabaseUnavailable, Refused, UsageError
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard
from proaudit_ops.protocols.plan import Plan, RowChange
from proaudit_ops.protocols.plan_auth import home_plan_key
from proaudit_ops.timeutil import utcnow

YES = ApplyOptions(assume_yes=True)


def never(_plan: Plan) -> bool:
    raise AssertionError("the guard must not prompt here")


@pytest.fixture
def loose_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The billing schema WITHOUT the unique constraint on payment_transactions.reference."""
    if request.param == "pg":
        url = request.getfixturevalue("pg_url")
        engine = make_engine(url)
    else:
        engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'loose.db'}")
    loose = MetaData()
    for table in metadata.sorted_tables:
        copy = table.to_metadata(loose)
        if copy.name == "payment_transactions":
            for constraint in [c for c in copy.constraints if isinstance(c, UniqueConstraint)]:
                copy.constraints.discard(constraint)
    loose.create_all(engine)
    yield engine
    engine.dispose()


def _two_rows_for(engine: Engine, seed: Any) -> str:
    (ref,) = seed(engine, 1)
    with engine.begin() as conn:
        row = dict(conn.execute(select(pt).where(pt.c.reference == ref)).mappings().one())
        conn.execute(insert(pt).values({**row, "id": "00000000-0000-4000-8000-0000000000d2"}))
    return ref


def _by_reference(guard: ChangeGuard, ref: str, *, expect: int | None) -> Callable[[Connection], Plan]:
    def build(conn: Connection) -> Plan:
        rows = guard.lock_rows(conn, pt, pt.c.reference == ref, expect=expect)
        changes = [
            RowChange(
                table=pt.name,
                key={"reference": ref},  # a business key, as a hand-built plan may use
                guards={"status": "pending"},
                new_values={"status": "success"},
                before=rows[0],
                label=ref,
                touch=("updated_at",),
            )
        ]
        return Plan("payments.fix", "stuck", tuple(changes), utcnow(), ref)

    return build


@pytest.mark.parametrize("loose_engine", ["pg", "sqlite"], indirect=True)
def test_lock_rows_with_expect_refuses_two_rows_for_one_key(
    loose_engine: Engine, audit_log: AuditLog, seed: Any, payments: Any
) -> None:
    guard = ChangeGuard(loose_engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    ref = _two_rows_for(loose_engine, seed)
    with pytest.raises(Refused, match=f"payment_transactions where reference = '{ref}' matched 2 rows, expected 1"):
        guard.execute(_by_reference(guard, ref, expect=1), YES, never)
    with read_only(loose_engine) as conn:
        statuses = conn.execute(select(pt.c.status).where(pt.c.reference == ref)).scalars().all()
    assert statuses == ["pending", "pending"]


@pytest.mark.parametrize("loose_engine", ["pg", "sqlite"], indirect=True)
def test_relock_and_update_check_the_count_the_key_matched(
    loose_engine: Engine, audit_log: AuditLog, seed: Any
) -> None:
    guard = ChangeGuard(loose_engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    (ref,) = seed(loose_engine, 1)

    def a_second_row_appears(_plan: Plan) -> bool:
        with loose_engine.begin() as conn:
            row = dict(conn.execute(select(pt).where(pt.c.reference == ref)).mappings().one())
            conn.execute(insert(pt).values({**row, "id": "00000000-0000-4000-8000-0000000000d3"}))
        return True

    with pytest.raises(
        Refused, match=r"stale plan: payment_transactions where reference = .* matched 2 rows, expected 1"
    ):
        guard.execute(_by_reference(guard, ref, expect=1), ApplyOptions(interactive=True), a_second_row_appears)
    with read_only(loose_engine) as conn:
        statuses = conn.execute(select(pt.c.status).where(pt.c.reference == ref)).scalars().all()
    assert statuses == ["pending", "pending"]


def test_touched_columns_are_set_at_apply_and_shown_as_now(
    engine: Engine, guard: ChangeGuard, seed: Any, payments: Any
) -> None:
    (ref,) = seed(engine, 1)
    before = payments(engine, [ref])[ref]["updated_at"]
    planned = guard.execute(_by_reference(guard, ref, expect=1), ApplyOptions(dry_run=True), never)
    assert planned.plan is not None
    again = guard.execute(_by_reference(guard, ref, expect=1), ApplyOptions(dry_run=True), never)
    assert again.plan is not None and again.plan.plan_hash == planned.plan.plan_hash  # created_at differs
    (sql,) = guard.plan_sql(planned.plan)
    assert re.search(r"updated_at\s*=\s*(now\(\)|CURRENT_TIMESTAMP)", sql), sql
    applied = guard.execute(_by_reference(guard, ref, expect=1), YES, never)
    assert applied.rows[0]["updated_at"] > before


@pytest.mark.postgres
def test_statement_timeout_is_reported_as_such(pg_url: str) -> None:
    engine = make_engine(pg_url, lock_timeout_ms=100, statement_timeout_ms=300)
    with pytest.raises(DatabaseUnavailable, match=r"statement timeout after 0\.3 s"), read_only(engine) as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    engine.dispose()


@pytest.mark.postgres
def test_every_session_has_the_timeouts_and_keeps_the_urls_search_path(pg_engine: Engine, pg_url: str) -> None:
    engine = make_engine(pg_url, lock_timeout_ms=1234, statement_timeout_ms=4321)
    with read_only(engine) as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "4321ms"
        assert conn.execute(select(pt.c.id).limit(1)).all() == []  # the private schema still resolves
    engine.dispose()


@pytest.mark.postgres
def test_lock_wait_on_a_held_table_lock_times_out_in_read_only(pg_engine: Engine, pg_url: str) -> None:
    engine = make_engine(pg_url, lock_timeout_ms=200, statement_timeout_ms=2000)
    with pg_engine.connect() as holder:
        holder.execute(text("LOCK TABLE payment_transactions IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(Refused, match=r"timed out waiting for a lock after 0\.2 s"), read_only(engine) as conn:
            conn.execute(select(pt).limit(1)).all()
        holder.rollback()
    engine.dispose()


# -- the plan key ----------------------------------------------------------------------------


def test_plan_key_is_made_once_privately_even_by_racing_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    keys: list[bytes] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        keys.append(home_plan_key(home))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert stat.S_IMODE(os.stat(home / "plan.key").st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["plan.key"]  # no temp files left


def test_plan_key_file_readable_by_others_or_a_symlink_is_refused(tmp_path: Path) -> None:
    home_plan_key(tmp_path)
    os.chmod(tmp_path / "plan.key", 0o640)
    with pytest.raises(ConfigError, match="readable or writable by others"):
        home_plan_key(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "plan.key").symlink_to(tmp_path / "plan.key")
    with pytest.raises(ConfigError, match="cannot open the plan key"):
        home_plan_key(other)


def test_guard_without_a_key_cannot_save_a_plan(engine: Engine, audit_log: AuditLog, seed: Any, tmp_path: Path) -> None:
    guard = ChangeGuard(engine, audit_log, lock_timeout_ms=500, statement_timeout_ms=5000)
    (ref,) = seed(engine, 1)
    with pytest.raises(UsageError, match="plan key"):
        guard.execute(_by_reference(guard, ref, expect=1), ApplyOptions(plan_out=tmp_path / "p.json"), never)
    assert not (tmp_path / "p.json").exists()


# -- the live guard in the approval gate -----------------------------------------------------


@pytest.mark.parametrize("live_flag", [False, True])
def test_approval_gate_refuses_a_key_mode_contradiction(live_flag: bool) -> None:
    from proaudit_ops.audit import query
    from proaudit_ops.config import load_settings
    from proaudit_ops.protocols.approval import Proposal, gate
    from proaudit_ops.protocols.live_guard import mode_conflict
    from proaudit_ops.runtime import Runtime

    conflict = mode_conflict("sk_live_x", True)
    assert conflict is not None and "PAYSTACK_SANDBOX_MODE=true" in conflict
    assert mode_conflict(None, True) is None and mode_conflict("sk_test_x", True) is None
    options = ApplyOptions(assume_yes=True, live_key=True, live_flag=live_flag, mode_conflict=conflict)
    with Runtime(load_settings(profile="sandbox"), argv=["proaudit", "webhooks", "replay"]) as runtime:
        proposal = Proposal("webhooks.replay", "PSK-STUCK-0001", "replay 1 event", 1, [])
        with pytest.raises(Refused, match="PAYSTACK_SECRET_KEY is a live key"):
            gate(runtime, options, proposal, lambda _p: True)
        with read_only(runtime.engine()) as conn:
            records = query(conn, limit=10)
    assert [(r.action, r.outcome) for r in records] == [("webhooks.replay", "refused")]


@pytest.mark.parametrize(("column", "value"), [("amount_kobo", 1), ("refund_reference", "x"), ("channel", "bank")])
def test_change_to_any_column_shown_between_prompt_and_apply_is_stale(
    engine: Engine, guard: ChangeGuard, seed: Any, payments: Any, column: str, value: object
) -> None:
    (ref,) = seed(engine, 1)

    def someone_edits_the_row(_plan: Plan) -> bool:
        with engine.begin() as conn:
            conn.execute(pt.update().where(pt.c.reference == ref).values({column: value}))
        return True

    with pytest.raises(Refused, match="stale plan") as caught:
        guard.execute(_by_reference(guard, ref, expect=1), ApplyOptions(interactive=True), someone_edits_the_row)
    shown = repr(value) if isinstance(value, str) else str(value)
    assert f"({column}: " in caught.value.message and f" -> {shown})" in caught.value.message
    assert payments(engine, [ref])[ref]["status"] == "pending"
