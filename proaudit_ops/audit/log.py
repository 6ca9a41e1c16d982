"""The audit log writer: appends to ops_audit_log, falls back to a JSONL file, ships it back.

Appends are serialised so the chain never forks: on PostgreSQL a transaction-level advisory
lock is taken before reading the last (seq, hash); on SQLite the write transaction is already
exclusive (BEGIN IMMEDIATE in engine.write_tx). seq = last + 1, no autoincrement.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import DBAPIError

from proaudit_ops.audit import fallback
from proaudit_ops.audit.canonical import GENESIS_HASH, canonical_text_or_none, plain_json
from proaudit_ops.audit.checkpoint import CheckpointStore, database_label, defer_on_commit
from proaudit_ops.audit.records import AuditContext, AuditEntry, AuditRecord, fit, record_hash
from proaudit_ops.audit.verify import verify_file
from proaudit_ops.db.engine import LOCK_NOT_AVAILABLE, advisory_key, is_postgres, write_tx
from proaudit_ops.db.schema import ops_audit_log as T
from proaudit_ops.errors import ProauditError, Refused
from proaudit_ops.timeutil import utcnow

# pg_advisory_xact_lock name of the audit chain (a key per schema: db.engine.advisory_key).
AUDIT_LOCK_NAME = "proaudit:audit-log"


@dataclass(frozen=True)
class ShipResult:
    source: Path | None  # the fallback file (None: there was none)
    shipped: int  # records appended to the table
    skipped: int  # records already shipped by an earlier, interrupted run
    renamed_to: Path | None
    first_seq: int | None = None
    last_seq: int | None = None


class AuditLog:
    def __init__(
        self,
        context: AuditContext,
        fallback_path: Path,
        *,
        lock_timeout_ms: int = 5000,
        statement_timeout_ms: int = 15000,
        checkpoints: CheckpointStore | None = None,
        checkpoint_every: int = 0,
    ) -> None:
        self.context = context
        self.fallback_path = Path(fallback_path)
        self.lock_timeout_ms = lock_timeout_ms
        self.statement_timeout_ms = statement_timeout_ms
        # With N > 0, a signed checkpoint of the head after every N-th record (once committed).
        self.checkpoints = checkpoints
        self.checkpoint_every = checkpoint_every

    # -- writing ----------------------------------------------------------------------------

    def append(self, conn: Connection, entry: AuditEntry) -> AuditRecord:
        """Append inside the caller's transaction: the change and its record commit together."""
        return self.append_many(conn, [entry])[0]

    def append_many(self, conn: Connection, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Several records in the caller's transaction: one lock, one read of the head, one INSERT
        (bulk commands record thousands of attempts)."""
        ctx = self.context
        return self._insert_many(
            conn,
            [
                {
                    "ts": utcnow(),
                    "actor": ctx.actor,
                    "host": ctx.host,
                    "command": ctx.command,
                    "incident": ctx.incident,
                    "action": entry.action,
                    "target": entry.target,
                    "before": entry.before,
                    "after": entry.after,
                    "outcome": entry.outcome,
                    "external_ids": entry.external_ids,
                }
                for entry in entries
            ],
        )

    def append_standalone(self, engine: Engine | None, entry: AuditEntry) -> AuditRecord:
        """Append in its own transaction; the fallback file when the database cannot take it."""
        if engine is not None:
            try:
                with write_tx(
                    engine,
                    lock_timeout_ms=self.lock_timeout_ms,
                    statement_timeout_ms=self.statement_timeout_ms,
                ) as conn:
                    return self.append(conn, entry)
            except ProauditError:
                pass  # unreachable, locked, or the table is missing: the record must land somewhere
        return self.append_fallback(entry)

    def append_fallback(self, entry: AuditEntry) -> AuditRecord:
        ctx = self.context
        ts = utcnow()
        path = self.fallback_path

        def build(seq: int, prev_hash: str) -> AuditRecord:
            return _build(
                seq,
                prev_hash,
                ts=ts,
                actor=ctx.actor,
                host=ctx.host,
                command=ctx.command,
                incident=ctx.incident,
                action=entry.action,
                target=entry.target,
                before=entry.before,
                after=entry.after,
                outcome=entry.outcome,
                external_ids=entry.external_ids,
                stored_in=str(path),
            )

        return fallback.append_record(path, build)

    # -- shipping ---------------------------------------------------------------------------

    def ship(self, engine: Engine) -> ShipResult:
        """Move the fallback file's records into the table (one transaction), then rename it."""
        path = self.fallback_path
        with fallback.locked_fd(path, create=False) as fd:
            if fd is None:
                return ShipResult(None, 0, 0, None)
            checked = verify_file(path)
            if not checked.ok:
                raise Refused(
                    f"the audit fallback file {path} is broken at line {checked.line}: "
                    f"{checked.detail}; nothing was shipped",
                    hint="keep the file as evidence, move it aside and report it",
                )
            records = [AuditRecord.from_dict(json.loads(line)) for line in fallback.read_lines(path)]
            renamed = _shipped_name(path)
            shipped: list[AuditRecord] = []
            skipped = 0
            with write_tx(
                engine,
                lock_timeout_ms=self.lock_timeout_ms,
                statement_timeout_ms=self.statement_timeout_ms,
            ) as conn:
                _serialise(conn)
                done = _shipped_hashes(conn)
                for rec in records:
                    if rec.hash in done:
                        skipped += 1
                        continue
                    shipped.append(self._insert(conn, **_shipped_fields(rec, path)))
                if shipped:
                    self.append(
                        conn,
                        AuditEntry(
                            action="audit.ship",
                            target=str(path),
                            outcome="applied",
                            after={
                                "shipped": len(shipped),
                                "skipped": skipped,
                                "first_seq": shipped[0].seq,
                                "last_seq": shipped[-1].seq,
                                "renamed_to": str(renamed),
                            },
                        ),
                    )
            os.rename(path, renamed)
            fallback.fsync_dir(path.parent)
        return ShipResult(
            source=path,
            shipped=len(shipped),
            skipped=skipped,
            renamed_to=renamed,
            first_seq=shipped[0].seq if shipped else None,
            last_seq=shipped[-1].seq if shipped else None,
        )

    # -- internals --------------------------------------------------------------------------

    def _insert(self, conn: Connection, **fields: Any) -> AuditRecord:
        return self._insert_many(conn, [fields])[0]

    def _insert_many(self, conn: Connection, many: list[dict[str, Any]]) -> list[AuditRecord]:
        _serialise(conn)
        last = conn.execute(select(T.c.seq, T.c.hash).order_by(T.c.seq.desc()).limit(1)).first()
        seq, prev_hash = (int(last[0]) + 1, str(last[1])) if last is not None else (1, GENESIS_HASH)
        records: list[AuditRecord] = []
        for fields in many:
            record = _build(seq, prev_hash, **fields)
            records.append(record)
            seq, prev_hash = seq + 1, record.hash
        if records:
            conn.execute(insert(T), [_row(record) for record in records])
            self._checkpoint_due(conn, records)
        return records

    def _checkpoint_due(self, conn: Connection, records: list[AuditRecord]) -> None:
        every, store = self.checkpoint_every, self.checkpoints
        if store is None or every <= 0:
            return
        due = [r for r in records if r.seq % every == 0]
        if not due:
            return
        head, database = due[-1], database_label(conn)

        def write() -> None:
            store.write(database, head.seq, head.hash, head.seq)  # count: an intact chain has seq records

        defer_on_commit(conn, write)


def _row(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "ts": record.ts,
        "actor": record.actor,
        "host": record.host,
        "command": record.command,
        "incident": record.incident,
        "action": record.action,
        "target": record.target,
        "before": canonical_text_or_none(record.before),
        "after": canonical_text_or_none(record.after),
        "outcome": record.outcome,
        "external_ids": canonical_text_or_none(record.external_ids),
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def _serialise(conn: Connection) -> None:
    """One appender at a time (PostgreSQL); SQLite's BEGIN IMMEDIATE already serialises."""
    if not is_postgres(conn):
        return
    try:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(conn, AUDIT_LOCK_NAME)})
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise Refused(
                "the audit log is busy: another session is appending and holds its lock",
                hint="retry in a moment",
            ) from None
        raise


def _build(
    seq: int,
    prev_hash: str,
    *,
    ts: datetime,
    actor: str,
    host: str,
    command: str,
    incident: str | None,
    action: str,
    target: str | None,
    before: Any,
    after: Any,
    outcome: str,
    external_ids: Any,
    stored_in: str = "table",
) -> AuditRecord:
    fields: dict[str, Any] = {
        "seq": seq,
        "ts": ts,
        "actor": fit("actor", actor),
        "host": fit("host", host),
        "command": command,
        "incident": fit("incident", incident),
        "action": fit("action", action),
        "target": fit("target", target),
        "before": plain_json(before),
        "after": plain_json(after),
        "outcome": outcome,
        "external_ids": plain_json(external_ids),
        "prev_hash": prev_hash,
    }
    unsigned = AuditRecord(**fields, hash="", stored_in=stored_in)
    return AuditRecord(**fields, hash=record_hash(unsigned.payload()), stored_in=stored_in)


def _shipped_fields(rec: AuditRecord, path: Path) -> dict[str, Any]:
    if isinstance(rec.external_ids, dict):
        external: dict[str, Any] = dict(rec.external_ids)
    elif rec.external_ids is None:
        external = {}
    else:
        external = {"original_external_ids": rec.external_ids}
    external.update({"shipped_from": str(path), "original_hash": rec.hash})
    return {
        "ts": rec.ts,
        "actor": rec.actor,
        "host": rec.host,
        "command": rec.command,
        "incident": rec.incident,
        "action": rec.action,
        "target": rec.target,
        "before": rec.before,
        "after": rec.after,
        "outcome": rec.outcome,
        "external_ids": external,
    }


def _shipped_hashes(conn: Connection) -> set[str]:
    """original_hash of every record already shipped from a fallback file."""
    rows = conn.execute(select(T.c.external_ids).where(T.c.external_ids.contains('"original_hash":'))).scalars()
    out: set[str] = set()
    for raw in rows:
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(value, dict) and isinstance(value.get("original_hash"), str):
            out.add(value["original_hash"])
    return out


def _shipped_name(path: Path) -> Path:
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    return path.with_name(f"{path.name}.shipped-{stamp}")
