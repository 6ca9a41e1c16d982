"""The streaming verifier's fast path: byte-identical to the canonical text, and no blind spot."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from proaudit_ops.audit import AuditEntry, AuditLog, verify_chain
from proaudit_ops.audit.canonical import canonical_json
from proaudit_ops.audit.verify import _COLUMNS, _fast_text, _row_item, _ts_text
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import ops_audit_log as T

ODD_VALUES: list[Any] = [
    None,
    {"a": 1, "before": {"after": [1, 2.5, None]}},
    ['naïve ₦ – \u2028 \\ "quoted"', {"z": True, "é": False}],
    "a plain string",
    0,
]


def test_the_fast_text_is_the_canonical_text_for_every_kind_of_record(engine: Engine, log: AuditLog) -> None:
    for i, value in enumerate(ODD_VALUES):
        log.append_standalone(
            engine,
            AuditEntry(
                "x.y",
                None if i % 2 else f"ref-\u00e9-{i}",
                "applied",
                before=value,
                after=value,
                external_ids=None if value is None else {"v": value},
            ),
        )
    with read_only(engine) as conn:
        columns = [_ts_text(conn) if c is T.c.ts else c for c in _COLUMNS]
        rows = conn.execute(select(*columns).order_by(T.c.seq)).all()
    assert len(rows) == len(ODD_VALUES)
    for row in rows:
        item = _row_item(row._mapping)
        assert item.payload is not None
        assert _fast_text(row) == canonical_json(item.payload)


def test_moving_bytes_between_after_and_before_is_found_although_the_hash_still_matches(
    engine: Engine, log: AuditLog
) -> None:
    # after {"a":1,"before":2}: moving its tail into before keeps the concatenated text the same.
    log.append_standalone(engine, AuditEntry("x.y", "r", "applied", before={"b": 1}))
    log.append_standalone(engine, AuditEntry("x.y", "r", "applied", before={"b": 1}, after={"a": 1, "before": 2}))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ops_audit_log SET after = :a, before = :b WHERE seq = 2"),
            {"a": '{"a":1', "b": '2},"before":{"b":1}'},
        )
    with read_only(engine) as conn:
        result = verify_chain(conn)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (2, "edited")


def test_progress_is_reported_up_to_the_total(sqlite_engine: Engine, log: AuditLog) -> None:

    from proaudit_ops.db.engine import write_tx

    with write_tx(sqlite_engine, lock_timeout_ms=1000, statement_timeout_ms=5000) as conn:
        log.append_many(conn, [AuditEntry("x.y", f"r{i}", "applied") for i in range(12_000)])
    seen: list[tuple[int, int]] = []
    with read_only(sqlite_engine) as conn:
        assert verify_chain(conn, progress=lambda done, total: seen.append((done, total))).ok
    assert seen[-1] == (12_000, 12_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) >= 3


@pytest.mark.parametrize("column", ["before", "after", "external_ids"])
def test_a_json_null_stored_as_text_is_still_found(engine: Engine, log: AuditLog, column: str) -> None:
    log.append_standalone(engine, AuditEntry("x.y", "r", "applied"))
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE ops_audit_log SET {column} = 'null' WHERE seq = 1"))
    with read_only(engine) as conn:
        assert verify_chain(conn).problem == "edited"
