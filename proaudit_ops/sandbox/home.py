"""The sandbox file: created and seeded on first use, exactly once, even when processes race.

`ensure_sandbox(path)` is cheap once seeded (one small read). Creation runs in one SQLite
`BEGIN IMMEDIATE` transaction (DDL is transactional in SQLite): the first process creates the
billing schema and the sim schema, seeds both and writes the `sim_meta` marker; any other
process waits on the write lock, then sees the marker and does nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from proaudit_ops.db.engine import describe_db_error, make_engine
from proaudit_ops.db.schema import metadata, organizations, payment_transactions, webhook_events
from proaudit_ops.errors import ConfigError
from proaudit_ops.sandbox.dataset import SEEDED_REFERENCES
from proaudit_ops.sandbox.seed import seed_billing, seed_simulator
from proaudit_ops.sandbox.state import sim_meta, sim_metadata, sim_refunds, sim_transactions
from proaudit_ops.timeutil import parse_iso, utcnow

SEEDED_AT = "seeded_at"
SCHEMA_FINGERPRINT = "schema_fingerprint"


@dataclass(frozen=True)
class SandboxSummary:
    path: Path
    seeded_at: datetime | None
    organizations: int
    payments_by_status: dict[str, int]
    inbox_by_status: dict[str, int]
    paystack_by_status: dict[str, int]
    refunds: int
    references: dict[str, str] = field(default_factory=lambda: dict(SEEDED_REFERENCES))


def sandbox_url(db_path: Path) -> str:
    return f"sqlite+pysqlite:///{db_path}"


def schema_fingerprint() -> str:
    parts = sorted(
        f"{table.name}.{column.name}:{column.type.__class__.__name__}"
        for meta in (metadata, sim_metadata)
        for table in meta.sorted_tables
        for column in table.columns
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(sim_meta.c.value).where(sim_meta.c.key == key)).scalar()
    return None if value is None else str(value)


def _marker(engine: Engine) -> tuple[str | None, str | None]:
    try:
        with engine.connect() as conn:
            return _meta(conn, SEEDED_AT), _meta(conn, SCHEMA_FINGERPRINT)
    except OperationalError:  # no sim_meta table yet: a new file
        return None, None


def ensure_sandbox(db_path: Path) -> Engine:
    """An engine on the sandbox file, creating and seeding it (now = utcnow) if needed."""
    db_path = Path(db_path).expanduser()
    url = sandbox_url(db_path)
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the sandbox folder {db_path.parent}: {exc.strerror}") from None
    engine = make_engine(url)
    try:
        seeded, fingerprint = _marker(engine)
        if seeded is None:
            _create(engine)
            seeded, fingerprint = _marker(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise describe_db_error(exc, url) from None
    if fingerprint != schema_fingerprint():
        engine.dispose()
        raise ConfigError(
            f"the sandbox at {db_path} was made by another version of proaudit",
            hint="run: proaudit sandbox reset",
        )
    return engine


def _create(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with conn.begin():
            sim_metadata.create_all(conn)
            if _meta(conn, SEEDED_AT) is not None:  # another process won the race
                return
            metadata.create_all(conn)
            now = utcnow().replace(microsecond=0)
            seed_billing(conn, now=now)
            seed_simulator(conn, now=now)
            conn.execute(
                sim_meta.insert(),
                [
                    {"key": SEEDED_AT, "value": now.isoformat()},
                    {"key": SCHEMA_FINGERPRINT, "value": schema_fingerprint()},
                ],
            )


def reset_sandbox(db_path: Path) -> SandboxSummary:
    """Delete the sandbox file and build it again; the counts of what is in it now."""
    db_path = Path(db_path).expanduser()
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(f"{db_path}{suffix}").unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ConfigError(f"cannot delete {db_path}{suffix}: {exc.strerror}") from None
    engine = ensure_sandbox(db_path)
    try:
        return sandbox_summary(engine, db_path)
    finally:
        engine.dispose()


def sandbox_status(db_path: Path) -> SandboxSummary:
    """What is in the sandbox now (creating it if needed): `proaudit sandbox status`."""
    engine = ensure_sandbox(db_path)
    try:
        return sandbox_summary(engine, Path(db_path).expanduser())
    finally:
        engine.dispose()


def _counts(conn: Connection, column: object) -> dict[str, int]:
    rows = conn.execute(select(column, func.count()).group_by(column).order_by(column)).all()  # type: ignore[call-overload]
    return {str(key): int(count) for key, count in rows}


def sandbox_summary(engine: Engine, db_path: Path) -> SandboxSummary:
    with engine.connect() as conn:
        seeded = _meta(conn, SEEDED_AT)
        return SandboxSummary(
            path=Path(db_path),
            seeded_at=parse_iso(seeded),
            organizations=int(conn.execute(select(func.count()).select_from(organizations)).scalar() or 0),
            payments_by_status=_counts(conn, payment_transactions.c.status),
            inbox_by_status=_counts(conn, webhook_events.c.status),
            paystack_by_status=_counts(conn, sim_transactions.c.status),
            refunds=int(conn.execute(select(func.count()).select_from(sim_refunds)).scalar() or 0),
        )
