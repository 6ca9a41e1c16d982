"""The sandbox file: created and seeded on first use, exactly once, even when processes race.

`ensure_sandbox(path)` is cheap once seeded (one small read). Creation runs in one SQLite
`BEGIN IMMEDIATE` transaction (DDL is transactional in SQLite): the first process creates the
billing schema and the sim schema, seeds both and writes the `sim_meta` marker; any other
process waits on the write lock, then sees the marker and does nothing.

Who is using the sandbox: every engine from `ensure_sandbox` holds a shared advisory lock
(flock) on `sandbox.db.lock` until it is disposed; `reset_sandbox` needs it exclusively, so a
reset never deletes the database under a running `sandbox serve` or command (unless forced).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from proaudit_ops.db.engine import describe_db_error, make_engine
from proaudit_ops.db.schema import metadata, organizations, payment_transactions, webhook_events
from proaudit_ops.errors import ConfigError, Refused
from proaudit_ops.sandbox.dataset import SEEDED_REFERENCES
from proaudit_ops.sandbox.seed import seed_billing, seed_simulator
from proaudit_ops.sandbox.state import sim_meta, sim_metadata, sim_refunds, sim_transactions
from proaudit_ops.timeutil import parse_iso, utcnow

SEEDED_AT = "seeded_at"
SCHEMA_FINGERPRINT = "schema_fingerprint"
RESET_WAIT_S = 30.0  # how long a user waits for a reset in progress


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
    in_use_by: list[int] = field(default_factory=list)  # pids a forced reset replaced the database under


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


def lock_path(db_path: Path) -> Path:
    return Path(f"{Path(db_path).expanduser()}.lock")


def _open_lock(db_path: Path) -> IO[str]:
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        return open(lock_path(db_path), "a+")  # held open for the engine's lifetime: closing releases the lock
    except OSError as exc:
        raise ConfigError(f"cannot create the sandbox lock {lock_path(db_path)}: {exc.strerror}") from None


def _try_lock(lock: IO[str], mode: int) -> bool:
    try:
        fcntl.flock(lock, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_holders(db_path: Path) -> list[int]:
    """The pids holding a lock on the sandbox's lock file (Linux /proc/locks; [] where unknown)."""
    try:
        st = os.stat(lock_path(db_path))
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids: set[int] = set()
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  READ 1234 08:01:5678 0 EOF"; "1: -> FLOCK ..." is a waiter, not a holder
        if len(fields) >= 6 and fields[1] != "->" and fields[5] == device and fields[4].isdigit():
            pids.add(int(fields[4]))
    return sorted(pids)


def ensure_sandbox(db_path: Path, *, wait_s: float = RESET_WAIT_S) -> Engine:
    """An engine on the sandbox file, creating and seeding it (now = utcnow) if needed.

    The engine holds the shared "in use" lock until it is disposed; a reset in progress is waited for.
    """
    db_path = Path(db_path).expanduser()
    lock = _open_lock(db_path)
    deadline = time.monotonic() + wait_s
    while not _try_lock(lock, fcntl.LOCK_SH):
        if time.monotonic() >= deadline:
            lock.close()
            raise Refused(
                f"the sandbox {db_path} is being reset by another process",
                hint="wait for `proaudit sandbox reset` to finish, then retry",
            )
        time.sleep(0.05)
    try:
        engine = _open(db_path)
    except BaseException:
        lock.close()
        raise
    event.listen(engine, "engine_disposed", lambda _engine: lock.close())
    return engine


def _open(db_path: Path) -> Engine:
    """The sandbox engine, created and seeded if needed, without taking the in-use lock."""
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
            _write_app_logs(db_path, seeded)
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


def _write_app_logs(db_path: Path, seeded: str | None) -> None:
    """The sandbox's app log (logs search), from the same seed time; rewritten on every reset."""
    from proaudit_ops.sandbox.applog import write_app_logs

    when = parse_iso(seeded)
    if when is not None:
        write_app_logs(db_path.parent / "logs", when)


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


def reset_sandbox(db_path: Path, *, force: bool = False) -> SandboxSummary:
    """Delete the sandbox file and build it again; the counts of what is in it now.

    Refused (exit 4) while another process uses the sandbox, naming it when the OS says who:
    its open database would be deleted under it. `force` does it anyway and reports the pids.
    """
    db_path = Path(db_path).expanduser()
    with contextlib.closing(_open_lock(db_path)) as lock:
        users: list[int] = []
        if not _try_lock(lock, fcntl.LOCK_EX):
            users = lock_holders(db_path)
            if not force:
                who = f" (pid {', '.join(map(str, users))})" if users else ""
                raise Refused(
                    f"the sandbox {db_path} is in use by another proaudit process{who}: "
                    "a reset would replace its database under it",
                    hint="stop it first (e.g. Ctrl-C `proaudit sandbox serve`), or rerun with --force",
                )
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                Path(f"{db_path}{suffix}").unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise ConfigError(f"cannot delete {db_path}{suffix}: {exc.strerror}") from None
        engine = _open(db_path)
        try:
            return replace(sandbox_summary(engine, db_path), in_use_by=users)
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
