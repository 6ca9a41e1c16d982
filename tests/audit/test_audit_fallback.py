"""The JSONL fallback: written when the database is down, verified, shipped back exactly once."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from proaudit_ops.audit import GENESIS_HASH, AuditEntry, AuditLog, query, verify_chain, verify_file
from proaudit_ops.audit.fallback import read_lines
from proaudit_ops.db.engine import make_engine, read_only
from proaudit_ops.errors import DependencyUnavailable, Refused

DEAD_URL = "postgresql+psycopg://postgres@127.0.0.1:1/x"


@pytest.fixture
def dead_engine() -> Any:
    engine = make_engine(DEAD_URL, connect_timeout_s=1)
    yield engine
    engine.dispose()


def entry(i: int, outcome: str = "refused") -> AuditEntry:
    return AuditEntry(
        action="recovery.maintenance",
        target=f"target-{i}",
        outcome=outcome,
        after={"i": i, "why": "database down \u2028 line-separator stays on one line"},
    )


def test_unreachable_database_goes_to_the_fallback_file(
    log: AuditLog, dead_engine: Engine, fallback_path: Path
) -> None:
    records = [log.append_standalone(dead_engine, entry(i)) for i in range(3)]
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(r.stored_in == str(fallback_path) for r in records)
    assert stat.S_IMODE(os.stat(fallback_path).st_mode) == 0o600
    lines = read_lines(fallback_path)
    assert len(lines) == 3
    assert json.loads(lines[1])["hash"] == records[1].hash
    assert all(json.loads(line)["prev_hash"] == r.prev_hash for line, r in zip(lines, records, strict=True))
    result = verify_file(fallback_path)
    assert result.ok
    assert result.checked == 3


def test_no_engine_goes_to_the_fallback_file(log: AuditLog, fallback_path: Path) -> None:
    record = log.append_standalone(None, entry(1))
    assert record.stored_in == str(fallback_path)
    assert verify_file(fallback_path).ok


def test_an_open_fallback_file_is_tightened_to_0600(log: AuditLog, fallback_path: Path) -> None:
    log.append_standalone(None, entry(1))
    os.chmod(fallback_path, 0o644)
    log.append_standalone(None, entry(2))
    assert stat.S_IMODE(os.stat(fallback_path).st_mode) == 0o600


def test_ship_moves_the_records_into_the_table_and_keeps_both_chains_valid(
    log: AuditLog, dead_engine: Engine, engine: Engine, fallback_path: Path
) -> None:
    log.append_standalone(engine, entry(0, "applied"))  # the table already has a record
    originals = [log.append_standalone(dead_engine, entry(i)) for i in range(1, 4)]

    result = log.ship(engine)
    assert result.shipped == 3
    assert result.skipped == 0
    assert (result.first_seq, result.last_seq) == (2, 4)
    assert result.renamed_to is not None
    assert result.renamed_to.name.startswith("audit-fallback.jsonl.shipped-")
    assert result.renamed_to.exists()
    assert not fallback_path.exists()

    with read_only(engine) as conn:
        assert verify_chain(conn).ok
        table = query(conn, limit=100)
    assert [r.seq for r in table] == [1, 2, 3, 4, 5]
    shipped = table[1:4]
    for original, copy in zip(originals, shipped, strict=True):
        assert copy.ts == original.ts
        assert (copy.actor, copy.command, copy.action, copy.target) == (
            original.actor,
            original.command,
            original.action,
            original.target,
        )
        assert (copy.before, copy.after, copy.outcome) == (
            original.before,
            original.after,
            original.outcome,
        )
        assert copy.external_ids == {
            "shipped_from": str(fallback_path),
            "original_hash": original.hash,
        }
        assert copy.hash != original.hash
    assert table[4].action == "audit.ship"
    assert table[4].after["shipped"] == 3

    again = log.ship(engine)
    assert (again.source, again.shipped) == (None, 0)
    with read_only(engine) as conn:
        assert len(query(conn, limit=100)) == 5


def test_a_ship_interrupted_before_the_rename_does_not_duplicate(
    log: AuditLog, dead_engine: Engine, pg_engine: Engine, fallback_path: Path
) -> None:
    for i in range(3):
        log.append_standalone(dead_engine, entry(i))
    first = log.ship(pg_engine)
    assert first.renamed_to is not None
    shutil.copy(first.renamed_to, fallback_path)  # as if the process died before renaming

    second = log.ship(pg_engine)
    assert (second.shipped, second.skipped) == (0, 3)
    with read_only(pg_engine) as conn:
        assert len(query(conn, limit=100)) == 4  # three shipped records and one ship record
        assert verify_chain(conn).ok
    assert not fallback_path.exists()


def test_new_records_after_a_ship_start_a_new_file_chain(
    log: AuditLog, dead_engine: Engine, pg_engine: Engine, fallback_path: Path
) -> None:
    log.append_standalone(dead_engine, entry(1))
    log.ship(pg_engine)
    record = log.append_standalone(dead_engine, entry(2))
    assert (record.seq, record.prev_hash) == (1, GENESIS_HASH)
    assert log.ship(pg_engine).shipped == 1
    with read_only(pg_engine) as conn:
        assert verify_chain(conn).checked == 4


def test_a_broken_file_is_not_shipped(
    log: AuditLog, dead_engine: Engine, pg_engine: Engine, fallback_path: Path
) -> None:
    for i in range(3):
        log.append_standalone(dead_engine, entry(i))
    lines = fallback_path.read_text().split("\n")
    lines[1] = lines[1].replace('"outcome":"refused"', '"outcome":"applied"')
    fallback_path.write_text("\n".join(lines))
    with pytest.raises(Refused, match="broken at line 2"):
        log.ship(pg_engine)
    assert fallback_path.exists()
    with read_only(pg_engine) as conn:
        assert query(conn, limit=10) == []


def write_three(log: AuditLog, fallback_path: Path) -> list[str]:
    for i in range(3):
        log.append_standalone(None, entry(i))
    # Not splitlines(): it would also split at the U+2028 inside a record.
    return [line + "\n" for line in fallback_path.read_text().split("\n")[:-1]]


def test_verify_file_finds_an_edited_line(log: AuditLog, fallback_path: Path) -> None:
    lines = write_three(log, fallback_path)
    lines[1] = lines[1].replace("target-1", "target-9")
    fallback_path.write_text("".join(lines))
    result = verify_file(fallback_path)
    assert (result.ok, result.problem, result.first_bad_seq, result.line) == (False, "edited", 2, 2)
    assert str(result.detail).startswith("line 2")


def test_verify_file_finds_a_deleted_line(log: AuditLog, fallback_path: Path) -> None:
    lines = write_three(log, fallback_path)
    fallback_path.write_text(lines[0] + lines[2])
    result = verify_file(fallback_path)
    assert (result.problem, result.first_bad_seq, result.line) == ("deleted", 2, 2)


def test_verify_file_finds_swapped_lines(log: AuditLog, fallback_path: Path) -> None:
    lines = write_three(log, fallback_path)
    fallback_path.write_text(lines[0] + lines[2] + lines[1])
    result = verify_file(fallback_path)
    assert (result.problem, result.first_bad_seq, result.line) == ("reordered", 2, 2)


def test_a_partial_last_line_is_reported_and_blocks_appends(log: AuditLog, fallback_path: Path) -> None:
    lines = write_three(log, fallback_path)
    fallback_path.write_text(lines[0] + lines[1] + lines[2][:40])
    result = verify_file(fallback_path)
    assert (result.problem, result.line) == ("edited", 3)
    with pytest.raises(DependencyUnavailable, match="partial line"):
        log.append_standalone(None, entry(4))


def test_verify_file_of_a_missing_file_is_ok(tmp_path: Path) -> None:
    assert verify_file(tmp_path / "none.jsonl").ok
