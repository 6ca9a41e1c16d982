"""What `proaudit audit log|show|verify` call: one function each, result objects, no printing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from proaudit_ops.audit.query import get, query
from proaudit_ops.audit.records import AuditRecord
from proaudit_ops.audit.verify import VerifyResult, verify_chain, verify_file
from proaudit_ops.db.engine import read_only
from proaudit_ops.errors import ExitCode, NotFoundError
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

    @property
    def ok(self) -> bool:
        return all(r.ok for r in (self.table, self.file) if r is not None)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FINDING


def list_records(
    engine: Engine,
    *,
    since: timedelta | None = None,
    incident: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    limit: int = 50,
) -> AuditListing:
    start = utcnow() - since if since is not None else None
    with read_only(engine) as conn:
        records = query(conn, since=start, incident=incident, actor=actor, target=target, limit=limit)
    return AuditListing(records, start, incident, actor, target, limit)


def show_record(engine: Engine, seq: int) -> AuditRecord:
    with read_only(engine) as conn:
        record = get(conn, seq)
    if record is None:
        raise NotFoundError(f"no audit record with seq {seq}", hint="list them: proaudit audit log")
    return record


def verify_log(engine: Engine | None, fallback_path: Path | None) -> ChainReport:
    """Verify the table (when engine is given) and the fallback file (when it exists)."""
    table = None
    if engine is not None:
        with read_only(engine) as conn:
            table = verify_chain(conn)
    file = None
    if fallback_path is not None and fallback_path.exists():
        file = verify_file(fallback_path)
    return ChainReport(table, file, fallback_path if file is not None else None)
