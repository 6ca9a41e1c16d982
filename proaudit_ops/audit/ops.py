"""What `proaudit audit log|show|verify` call: one function each, result objects, no printing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from proaudit_ops.audit.canonical import GENESIS_HASH
from proaudit_ops.audit.checkpoint import Checkpoint, CheckpointCheck, CheckpointStore, compare, database_label
from proaudit_ops.audit.query import get, query
from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.audit.verify import VerifyResult, verify_chain, verify_file
from proaudit_ops.db.engine import read_only
from proaudit_ops.errors import ExitCode, NotFoundError, Refused, UsageError
from proaudit_ops.timeutil import utcnow


@dataclass(frozen=True)
class AuditListing:
    records: list[AuditRecord]
    since: datetime | None
    incident: str | None
    actor: str | None
    target: str | None
    limit: int


@dataclass(frozen=True)
class ChainReport:
    """The table's chain, and the fallback file's when there is one waiting to be shipped."""

    table: VerifyResult | None
    file: VerifyResult | None
    file_path: Path | None
    checkpoint: CheckpointCheck | None = None  # the table against its latest signed checkpoint

    @property
    def ok(self) -> bool:
        checks = (self.table, self.file, self.checkpoint)
        return all(r.ok for r in checks if r is not None)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FINDING


DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=36_500)  # a century: older than any audit log, and datetime stays in range
MAX_SEQ = 2**63 - 1  # BIGINT


def list_records(
    engine: Engine,
    *,
    since: timedelta | None = None,
    incident: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    limit: int = 50,
) -> AuditListing:
    """Newest matching records. No `since`: the last 24 h, except for an incident (all of it)."""
    if since is None and not incident:
        since = DEFAULT_WINDOW
    if since is not None and not timedelta(0) < since <= MAX_WINDOW:
        raise UsageError(f"--since must be between 1s and {MAX_WINDOW.days}d", hint="e.g. --since 7d")
    start = utcnow() - since if since is not None else None
    with read_only(engine) as conn:
        records = query(conn, since=start, incident=incident, actor=actor, target=target, limit=limit)
    return AuditListing(records, start, incident, actor, target, limit)


def show_record(engine: Engine, seq: int) -> AuditRecord:
    if not 1 <= seq <= MAX_SEQ:
        raise UsageError(f"an audit record's seq is between 1 and {MAX_SEQ}, got {seq}", hint="proaudit audit log")
    with read_only(engine) as conn:
        record = get(conn, seq)
    if record is None:
        raise NotFoundError(f"no audit record with seq {seq}", hint="list them: proaudit audit log")
    return record


def verify_log(
    engine: Engine | None,
    fallback_path: Path | None,
    *,
    checkpoints: CheckpointStore | None = None,
    checkpoint_file: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Verify the table (when engine is given) against the latest checkpoint, and the fallback file."""
    table = None
    check = None
    if engine is not None:
        with read_only(engine) as conn:
            table = verify_chain(conn, progress)
            if checkpoints is not None:
                latest = checkpoints.latest(database_label(engine), checkpoint_file)
                check = compare(conn, latest, checkpoint_file or checkpoints.path)
    file = None
    if fallback_path is not None and fallback_path.exists():
        file = verify_file(fallback_path)
    return ChainReport(table, file, fallback_path if file is not None else None, check)


@dataclass(frozen=True)
class CheckpointWritten:
    checkpoint: Checkpoint
    path: Path
    previous: CheckpointCheck  # the chain against the checkpoint before this one


def write_checkpoint(
    engine: Engine, checkpoints: CheckpointStore, progress: Callable[[int, int], None] | None = None
) -> CheckpointWritten:
    """Verify the chain (and the last checkpoint), then sign its head; a broken chain is not signed."""
    database = database_label(engine)
    with read_only(engine) as conn:
        chain = verify_chain(conn, progress)
        previous = compare(conn, checkpoints.latest(database), checkpoints.path)
    if not chain.ok:
        raise Refused(
            f"the audit chain is broken at seq {chain.first_bad_seq} ({chain.problem}): not signing it",
            hint="see proaudit audit verify; keep the database as evidence",
        )
    if not previous.ok:
        raise Refused(
            f"the audit log no longer matches its last checkpoint: {previous.detail}; not signing it",
            hint="see proaudit audit verify; keep the database and the checkpoint file as evidence",
        )
    written = checkpoints.write(database, chain.last_seq or 0, chain.head_hash or GENESIS_HASH, chain.checked)
    return CheckpointWritten(written, checkpoints.path, previous)
