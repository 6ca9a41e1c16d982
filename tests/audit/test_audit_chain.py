"""The table chain on PostgreSQL and SQLite: appends, and tampering found at the right seq."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from proaudit_ops.audit import GENESIS_HASH, AuditEntry, AuditLog, query, verify_chain
from proaudit_ops.audit.records import AuditRecord, record_hash
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import ops_audit_log as T


def entry(i: int, outcome: str = "applied") -> AuditEntry:
    return AuditEntry(
        action="payments.fix",
        target=f"ref-{i}",
        outcome=outcome,
        before=[{"reference": f"ref-{i}", "status": "pending", "amount_kobo": 15_000_000 + i}],
        after=[
            {
                "reference": f"ref-{i}",
                "status": "success",
                "paid_at": datetime(2024, 8, 22, tzinfo=UTC),
            }
        ],
        external_ids={"paystack_transaction_id": 4_000_000_000 + i, "note": "naïve ₦ – \u2028 ok"},
    )


def fill(log: AuditLog, engine: Engine, n: int = 5) -> list[AuditRecord]:
    return [log.append_standalone(engine, entry(i)) for i in range(1, n + 1)]


def verify(engine: Engine) -> Any:
    with read_only(engine) as conn:
        return verify_chain(conn)


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_clean_log_verifies_with_its_count(engine: Engine, log: AuditLog) -> None:
    written = fill(log, engine)
    assert [r.seq for r in written] == [1, 2, 3, 4, 5]
    assert written[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(written))
    result = verify(engine)
    assert result.ok
    assert result.checked == 5
    assert result.first_bad_seq is None
    assert result.head_hash == written[-1].hash
    assert result.last_seq == 5


def test_empty_log_verifies(engine: Engine) -> None:
    result = verify(engine)
    assert result.ok
    assert result.checked == 0


def test_records_read_back_equal_and_rehash(engine: Engine, log: AuditLog) -> None:
    written = fill(log, engine, 3)
    with read_only(engine) as conn:
        read = query(conn, limit=10)
    assert read == written
    assert all(r.computed_hash() == r.hash for r in read)
    assert read[0].actor == "bola (os:bola-os)"
    assert read[0].after[0]["paid_at"] == "2024-08-22T00:00:00Z"


def test_append_in_the_callers_transaction_rolls_back_with_it(engine: Engine, log: AuditLog) -> None:
    class Boom(Exception):
        pass

    def append_then_fail() -> None:
        with engine.begin() as conn:
            log.append(conn, entry(1))
            raise Boom

    with pytest.raises(Boom):
        append_then_fail()
    assert verify(engine).checked == 0
    assert log.append_standalone(engine, entry(2)).seq == 1


def test_stored_json_is_canonical_text(engine: Engine, log: AuditLog) -> None:
    fill(log, engine, 1)
    with read_only(engine) as conn:
        row = conn.execute(select(T.c.external_ids, T.c.before)).one()
    assert row.external_ids.startswith('{"note":"naïve ₦')
    assert row.before.startswith('[{"amount_kobo":15000001,"reference":"ref-1"')


EDITS: list[tuple[str, Any]] = [
    ("actor", "mallory (os:mallory)"),
    ("host", "elsewhere"),
    ("command", "proaudit payments verify ref-3"),
    ("incident", "INC-0"),
    ("incident", None),
    ("action", "payments.verify"),
    ("target", "ref-999"),
    ("target", None),
    ("before", '[{"amount_kobo":1,"reference":"ref-3","status":"pending"}]'),
    ("before", None),
    ("after", '[{"reference":"ref-3","status":"failed"}]'),
    ("outcome", "planned"),
    ("external_ids", '{"refund_id":999}'),
    ("prev_hash", "f" * 64),
    ("hash", "e" * 64),
]


@pytest.mark.parametrize(("column", "value"), EDITS, ids=[f"{c}={v!r}"[:40] for c, v in EDITS])
def test_editing_any_column_is_found_at_that_seq(engine: Engine, log: AuditLog, column: str, value: Any) -> None:
    fill(log, engine)
    sql(engine, f"UPDATE ops_audit_log SET {column} = :v WHERE seq = 3", v=value)
    result = verify(engine)
    assert not result.ok
    assert (result.problem, result.first_bad_seq) == ("edited", 3), result.detail
    assert result.checked == 2


def test_editing_the_time_is_found(engine: Engine, log: AuditLog) -> None:
    fill(log, engine)
    with engine.begin() as conn:
        conn.execute(update(T).where(T.c.seq == 3).values(ts=datetime(2020, 1, 1, tzinfo=UTC)))
    result = verify(engine)
    assert (result.problem, result.first_bad_seq) == ("edited", 3)


def test_json_reformatted_without_changing_meaning_is_found(engine: Engine, log: AuditLog) -> None:
    fill(log, engine)
    sql(
        engine,
        "UPDATE ops_audit_log SET external_ids = REPLACE(external_ids, ',', ', ') WHERE seq = 3",
    )
    result = verify(engine)
    assert (result.problem, result.first_bad_seq) == ("edited", 3)
    assert "canonical" in str(result.detail)


@pytest.mark.parametrize("new_seq", [1000, 0, -5])
def test_moving_a_record_to_another_seq_is_found_at_its_seq(engine: Engine, log: AuditLog, new_seq: int) -> None:
    fill(log, engine)
    sql(engine, "UPDATE ops_audit_log SET seq = :s WHERE seq = 3", s=new_seq)
    result = verify(engine)
    assert (result.problem, result.first_bad_seq) == ("edited", 3), result.detail
    assert f"moved to seq {new_seq}" in str(result.detail)


@pytest.mark.parametrize(("deleted", "first_bad"), [((3,), 3), ((1,), 1), ((2, 3), 2)])
def test_deleting_records_is_found(engine: Engine, log: AuditLog, deleted: tuple[int, ...], first_bad: int) -> None:
    fill(log, engine)
    for seq in deleted:
        sql(engine, "DELETE FROM ops_audit_log WHERE seq = :s", s=seq)
    result = verify(engine)
    assert (result.problem, result.first_bad_seq) == ("deleted", first_bad), result.detail
    assert "missing" in str(result.detail)


@pytest.mark.parametrize(("a", "b"), [(2, 4), (3, 4), (1, 5)])
def test_swapping_two_records_is_found_as_reordered(engine: Engine, log: AuditLog, a: int, b: int) -> None:
    fill(log, engine)
    # Swap the two rows' contents: each keeps its content (and hash) and takes the other's seq.
    sql(engine, "UPDATE ops_audit_log SET seq = -1 WHERE seq = :a", a=a)
    sql(engine, "UPDATE ops_audit_log SET seq = :a WHERE seq = :b", a=a, b=b)
    sql(engine, "UPDATE ops_audit_log SET seq = :b WHERE seq = -1", b=b)
    result = verify(engine)
    assert (result.problem, result.first_bad_seq) == ("reordered", a), result.detail
    assert f"written as seq {b}" in str(result.detail)


def test_a_record_rewritten_with_a_recomputed_hash_breaks_the_next_link(engine: Engine, log: AuditLog) -> None:
    written = fill(log, engine)
    forged = AuditRecord(**{**written[2].__dict__, "actor": "mallory (os:mallory)", "hash": ""})
    new_hash = record_hash(forged.payload())
    sql(
        engine,
        "UPDATE ops_audit_log SET actor = :a, hash = :h WHERE seq = 3",
        a=forged.actor,
        h=new_hash,
    )
    result = verify(engine)
    assert (result.problem, result.first_bad_seq) == ("deleted", 4), result.detail
    assert "rewritten with a recomputed hash" in str(result.detail)


def test_concurrent_appenders_never_fork_the_chain(pg_engine: Engine, log: AuditLog) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(10):
                record = log.append_standalone(pg_engine, entry(worker * 100 + i))
                assert record.stored_in == "table"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    result = verify(pg_engine)
    assert result.ok
    assert result.checked == 40
    assert not log.fallback_path.exists()


def test_verify_runs_in_a_read_only_transaction_without_writing(engine: Engine, log: AuditLog) -> None:
    fill(log, engine, 2)
    with read_only(engine) as conn:
        assert verify_chain(conn).ok
        assert len(query(conn, limit=5)) == 2


def test_append_many_chains_like_single_appends(sqlite_engine: Engine, tmp_path: Path) -> None:
    from proaudit_ops.audit import AuditContext
    from proaudit_ops.db.engine import write_tx

    log = AuditLog(AuditContext(operator="o", os_user="u", host="h", command="c"), tmp_path / "fallback.jsonl")
    with write_tx(sqlite_engine, lock_timeout_ms=100, statement_timeout_ms=1000) as conn:
        first = log.append(conn, AuditEntry(action="x.one", target="a", outcome="applied"))
        many = log.append_many(conn, [AuditEntry(action="x.many", target=str(i), outcome="failed") for i in range(5)])
    assert [r.seq for r in many] == [2, 3, 4, 5, 6]
    assert many[0].prev_hash == first.hash
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(many))
    with read_only(sqlite_engine) as conn:
        result = verify_chain(conn)
    assert result.ok
    assert result.checked == 6
