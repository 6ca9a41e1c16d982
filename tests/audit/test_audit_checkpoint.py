"""Signed checkpoints: the tampers a hash chain alone cannot see (a removed tail, a rebuilt chain)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, text, update

from proaudit_ops.audit import AuditContext, AuditEntry, AuditLog
from proaudit_ops.audit.canonical import GENESIS_HASH, canonical_json
from proaudit_ops.audit.checkpoint import CheckpointStore, checkpoint_store, load_key
from proaudit_ops.audit.ops import verify_log, write_checkpoint
from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.config import Settings
from proaudit_ops.db.engine import write_tx
from proaudit_ops.db.schema import ops_audit_log as T
from proaudit_ops.errors import ConfigError, Refused


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    return checkpoint_store(Settings(proaudit_home=tmp_path / "home"))


def fill(log: AuditLog, engine: Engine, n: int) -> None:
    for i in range(1, n + 1):
        log.append_standalone(engine, AuditEntry("payments.fix", f"ref-{i}", "applied", after={"i": i}))


def check(engine: Engine, store: CheckpointStore, file: Path | None = None):  # type: ignore[no-untyped-def]
    report = verify_log(engine, None, checkpoints=store, checkpoint_file=file)
    assert report.checkpoint is not None
    return report


def test_a_checkpoint_is_signed_with_a_generated_key_and_both_files_are_0600(
    engine: Engine, log: AuditLog, store: CheckpointStore, tmp_path: Path
) -> None:
    fill(log, engine, 3)
    written = write_checkpoint(engine, store).checkpoint
    assert (written.seq, written.count) == (3, 3)
    for path in (store.path, tmp_path / "home" / "checkpoint.key"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    (line,) = store.path.read_text().splitlines()
    data = json.loads(line)
    assert {"seq", "hash", "count", "ts", "database", "key_id", "sig"} <= set(data)
    with engine.connect() as conn:
        assert data["hash"] == conn.execute(select(T.c.hash).where(T.c.seq == 3)).scalar()
        stored = " ".join(str(v) for v in conn.execute(select(T)).all())
    key = (tmp_path / "home" / "checkpoint.key").read_text().strip()
    assert key not in stored  # the database never holds the key
    report = check(engine, store)
    assert report.ok and report.checkpoint is not None and report.checkpoint.ok


def test_a_truncated_tail_is_found_and_named(engine: Engine, log: AuditLog, store: CheckpointStore) -> None:
    fill(log, engine, 5)
    write_checkpoint(engine, store)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ops_audit_log WHERE seq >= 4"))
    report = check(engine, store)
    assert report.table is not None and report.table.ok  # the chain alone cannot see it
    assert not report.ok
    assert report.checkpoint is not None
    assert report.checkpoint.problem == "truncated"
    assert "records 4..5 were removed" in report.checkpoint.detail
    with pytest.raises(Refused, match="truncated"):
        write_checkpoint(engine, store)  # a truncated chain is not signed over


def test_a_chain_rebuilt_after_an_edit_is_found_and_named(
    engine: Engine, log: AuditLog, store: CheckpointStore
) -> None:
    fill(log, engine, 5)
    write_checkpoint(engine, store)
    # Edit record 3, then recompute every hash from it on: the chain verifies again.
    with engine.begin() as conn:
        rows = [AuditRecord.from_row(r) for r in conn.execute(select(T).order_by(T.c.seq)).mappings()]
        prev = rows[1].hash
        for rec in rows[2:]:
            fields = {**rec.__dict__, "prev_hash": prev}
            if rec.seq == 3:
                fields["after"] = {"i": 333}
            fields.pop("stored_in")
            new = AuditRecord(**{**fields, "hash": ""})
            new = AuditRecord(**{**fields, "hash": new.computed_hash()})
            conn.execute(
                update(T)
                .where(T.c.seq == rec.seq)
                .values(after=canonical_json(new.after), prev_hash=new.prev_hash, hash=new.hash)
            )
            prev = new.hash
    report = check(engine, store)
    assert report.table is not None and report.table.ok
    assert report.checkpoint is not None and report.checkpoint.problem == "rebuilt"
    assert "seq 5" in report.checkpoint.detail and "rewritten" in report.checkpoint.detail
    assert report.exit_code == 1


def test_a_forged_checkpoint_is_refused(engine: Engine, log: AuditLog, store: CheckpointStore) -> None:
    fill(log, engine, 5)
    write_checkpoint(engine, store)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ops_audit_log WHERE seq = 5"))
    # The tamperer also rewrites the checkpoint to the new head, without the key.
    data = json.loads(store.path.read_text())
    with engine.connect() as conn:
        data["hash"] = conn.execute(select(T.c.hash).where(T.c.seq == 4)).scalar()
    data["seq"] = data["count"] = 4
    store.path.write_text(canonical_json(data) + "\n")
    with pytest.raises(Refused, match="not trusted: bad signature"):
        check(engine, store)


def test_a_checkpoint_signed_with_another_key_is_refused(
    engine: Engine, log: AuditLog, store: CheckpointStore, tmp_path: Path
) -> None:
    fill(log, engine, 2)
    other = CheckpointStore(
        store.path, lambda _create: load_key(SecretStr("another key"), tmp_path / "k", create=False)
    )
    write_checkpoint(engine, other)
    with pytest.raises(Refused, match="no checkpoint key"):
        check(engine, store)  # this store's key does not exist yet: nothing to check with
    assert store.key(True) is not None
    with pytest.raises(Refused, match="signed with another key"):
        check(engine, store)


def test_verify_against_a_named_checkpoint_file(
    engine: Engine, log: AuditLog, store: CheckpointStore, tmp_path: Path
) -> None:
    fill(log, engine, 3)
    write_checkpoint(engine, store)
    kept = tmp_path / "kept.jsonl"
    kept.write_bytes(store.path.read_bytes())  # a copy kept elsewhere
    store.path.unlink()  # the tamperer removes the default file ...
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ops_audit_log WHERE seq = 3"))  # ... and the tail
    assert check(engine, store).ok  # nothing to compare with: only a note
    report = check(engine, store, kept)
    assert not report.ok and report.checkpoint is not None and report.checkpoint.problem == "truncated"


def test_no_checkpoint_is_a_note_not_a_failure(engine: Engine, log: AuditLog, store: CheckpointStore) -> None:
    fill(log, engine, 1)
    report = check(engine, store)
    assert report.ok
    assert report.checkpoint is not None and "no checkpoint" in report.checkpoint.detail


def test_every_nth_record_writes_a_checkpoint_once_committed(
    engine: Engine, context: AuditContext, fallback_path: Path, store: CheckpointStore
) -> None:
    log = AuditLog(context, fallback_path, checkpoints=store, checkpoint_every=2)
    fill(log, engine, 5)
    seqs = [json.loads(line)["seq"] for line in store.path.read_text().splitlines()]
    assert seqs == [2, 4]

    # A record in a transaction that rolls back leaves no checkpoint behind.
    def failing_change() -> None:
        with write_tx(engine, lock_timeout_ms=1000, statement_timeout_ms=5000) as conn:
            log.append(conn, AuditEntry("x.y", "r", "applied"))  # seq 6
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    fill(log, engine, 1)  # seq 6 again, committed this time
    seqs = [json.loads(line)["seq"] for line in store.path.read_text().splitlines()]
    assert seqs == [2, 4, 6]
    assert check(engine, store).ok


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.key"
    key.write_text("secret\n")
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="readable or writable by others"):
        load_key(None, key, create=False)


def test_a_configured_key_is_used_and_no_key_file_is_made(engine: Engine, log: AuditLog, tmp_path: Path) -> None:
    settings = Settings(proaudit_home=tmp_path / "h", proaudit_checkpoint_key=SecretStr("from the vault"))
    store = checkpoint_store(settings)
    fill(log, engine, 1)
    write_checkpoint(engine, store)
    assert not (tmp_path / "h" / "checkpoint.key").exists()
    assert check(engine, store).ok


def test_an_empty_log_can_be_checkpointed(engine: Engine, store: CheckpointStore) -> None:
    written = write_checkpoint(engine, store).checkpoint
    assert (written.seq, written.hash) == (0, GENESIS_HASH)
    assert check(engine, store).ok
