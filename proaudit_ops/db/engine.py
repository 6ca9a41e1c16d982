"""Engines and transactions: read-only for diagnostics, bounded lock waits for everything.

Every PostgreSQL session gets `lock_timeout` (below) and `statement_timeout` when it connects
(a connect event: the URL's libpq `options` stay the caller's), so no transaction, read-only
included, can wait forever behind a lock; write transactions SET LOCAL them again. A lock wait
that times out is Refused (exit 4: "timed out waiting for a lock after N s"), a statement that
runs too long is DatabaseUnavailable (exit 3: "statement timeout after N s").
Every database error leaves this module as a ProauditError with the DSN's password masked.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from proaudit_ops.db.schema import metadata
from proaudit_ops.errors import DatabaseUnavailable, ProauditError, Refused
from proaudit_ops.redact import mask_url

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_not_available (NOWAIT, lock_timeout)
QUERY_CANCELED = "57014"  # statement_timeout
UNDEFINED_OBJECT = ("42P01", "42703")  # undefined_table, undefined_column
DEFAULT_LOCK_TIMEOUT_MS = 2000  # the settings' defaults (config.py)
DEFAULT_STATEMENT_TIMEOUT_MS = 15000


@dataclass(frozen=True)
class Timeouts:
    lock_ms: int
    statement_ms: int

    @classmethod
    def of(cls, lock_ms: int, statement_ms: int) -> Timeouts:
        """lock_timeout strictly below statement_timeout, so a lock wait reports as one."""
        statement = max(int(statement_ms), 2)
        return cls(min(max(int(lock_ms), 1), statement - 1), statement)


_TIMEOUTS: weakref.WeakKeyDictionary[Engine, Timeouts] = weakref.WeakKeyDictionary()


def engine_timeouts(engine: Engine) -> Timeouts:
    return _TIMEOUTS.get(engine) or Timeouts.of(DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS)


def seconds(ms: int) -> str:
    """2000 -> "2 s", 500 -> "0.5 s"."""
    return f"{ms / 1000:g} s"


def make_engine(
    url: str,
    *,
    connect_timeout_s: int = 5,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    timeouts = Timeouts.of(lock_timeout_ms, statement_timeout_ms)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": connect_timeout_s, "application_name": "proaudit"},
    )
    _TIMEOUTS[engine] = timeouts

    def session_timeouts(dbapi_conn: Any, _record: Any) -> None:
        # Session defaults for every transaction on this connection (read-only ones included).
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {timeouts.lock_ms}")
                cursor.execute(f"SET statement_timeout = {timeouts.statement_ms}")
        finally:
            dbapi_conn.autocommit = autocommit

    event.listen(engine, "connect", session_timeouts)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLAlchemy's documented pysqlite recipe: let us emit BEGIN ourselves.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL: the in-process simulator writes the same file while a command reads it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _raw_sqlite(conn: Connection, sql: str) -> None:
    """Run a PRAGMA on the driver connection, outside SQLAlchemy's transaction (no autobegin)."""
    conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]


def _sqlite_begin(conn: Connection) -> None:
    # Writers take SQLite's write lock at BEGIN so a plan's reads and its UPDATE see one state.
    conn.exec_driver_sql(conn.info.pop("sqlite_begin", "BEGIN"))


def advisory_key(conn: Connection, name: str) -> int:
    """A bigint key for a PostgreSQL advisory lock on `name`, scoped to this connection's schema.

    Advisory locks belong to the whole database, not to a schema: two billing schemas on one server
    (or the tests' parallel schemas) must neither wait for nor refuse on each other's locks.
    """
    schema = conn.execute(text("SELECT current_schema()")).scalar()
    digest = hashlib.sha256(f"{schema}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def is_postgres(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


def is_lock_timeout(exc: BaseException) -> bool:
    """lock_timeout expired: 55P03 other than NOWAIT's "could not obtain lock on ..."."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE and "could not obtain lock" not in str(orig)


def describe_db_error(exc: BaseException, url: str, timeouts: Timeouts | None = None) -> ProauditError:
    """One line, password masked, with the next step."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    detail = str(orig if orig is not None else exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    limits = timeouts or Timeouts.of(DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS)
    if is_lock_timeout(exc):
        return Refused(
            f"timed out waiting for a lock after {seconds(limits.lock_ms)}: another session holds it",
            hint="someone else is changing these rows or the table; retry in a moment "
            "(pg_stat_activity shows who holds the lock)",
        )
    if sqlstate == LOCK_NOT_AVAILABLE:
        return Refused(
            f"row is locked by another session: {detail}",
            hint="someone else is changing it; retry in a moment",
        )
    if sqlstate == QUERY_CANCELED and "statement timeout" in detail:
        return DatabaseUnavailable(
            f"statement timeout after {seconds(limits.statement_ms)}: the database did not answer in time",
            hint="the database is overloaded or a query is blocked; retry, or raise PROAUDIT_STATEMENT_TIMEOUT_MS",
        )
    where = mask_url(url.replace("+psycopg", "").replace("+pysqlite", ""))
    if sqlstate in UNDEFINED_OBJECT or "no such table" in detail or "no such column" in detail:
        return DatabaseUnavailable(
            f"the database at {where} lacks what the tool needs: {mask_url(detail)}",
            hint="run proaudit config check: it lists the schema drift",
        )
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return DatabaseUnavailable(
            f"cannot reach the database at {where}: {mask_url(detail)}",
            hint="check DATABASE_URL, that the server is up, and the credentials",
        )
    return DatabaseUnavailable(f"database error at {where}: {mask_url(detail)}")


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: diagnostics never write and never take locks."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            if not is_postgres(conn):
                _raw_sqlite(conn, "PRAGMA query_only = ON")
            try:
                with conn.begin() as tx:
                    if is_postgres(conn):
                        conn.execute(text("SET TRANSACTION READ ONLY"))
                        if engine not in _TIMEOUTS:  # not made by make_engine: no session defaults
                            limits = engine_timeouts(engine)
                            conn.execute(text(f"SET LOCAL lock_timeout = {limits.lock_ms}"))
                            conn.execute(text(f"SET LOCAL statement_timeout = {limits.statement_ms}"))
                    yield conn
                    tx.rollback()
            finally:
                if not is_postgres(conn):
                    _raw_sqlite(conn, "PRAGMA query_only = OFF")
    except ProauditError:
        raise
    except SQLAlchemyError as exc:
        raise describe_db_error(exc, url, engine_timeouts(engine)) from None


@contextmanager
def write_tx(engine: Engine, *, lock_timeout_ms: int, statement_timeout_ms: int) -> Iterator[Connection]:
    """A read-write transaction with lock_timeout below statement_timeout (PostgreSQL)."""
    url = engine.url.render_as_string(hide_password=True)
    limits = Timeouts.of(lock_timeout_ms, statement_timeout_ms)
    try:
        with engine.connect() as conn:
            if not is_postgres(conn):
                conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            with conn.begin():
                if is_postgres(conn):
                    conn.execute(text(f"SET LOCAL lock_timeout = {limits.lock_ms}"))
                    conn.execute(text(f"SET LOCAL statement_timeout = {limits.statement_ms}"))
                yield conn
    except ProauditError:
        raise
    except SQLAlchemyError as exc:
        raise describe_db_error(exc, url, limits) from None


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)


def schema_drift(engine: Engine) -> list[str]:
    """Tables or columns the tool needs that the database lacks, one line each."""
    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    problems: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in present:
            problems.append(f"table {table.name} is missing")
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns:
                problems.append(f"column {table.name}.{column.name} is missing")
    return problems
