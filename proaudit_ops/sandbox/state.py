"""The simulator's own state: Paystack's view of the world, in tables of a separate MetaData.

In the sandbox these tables live in the same SQLite file as the billing tables, but they are
never part of `proaudit_ops.db.schema.metadata` (schema drift checks and the runbook's SQL do
not see them). JSON-ish sub-objects (customer, authorization, log, ...) are stored as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    text,
)

from proaudit_ops.db.schema import UTCDateTime

# A row as SQLAlchemy hands it back (RowMapping) or as we build it (dict).
RowLike = Mapping[Any, Any]

sim_metadata = MetaData()

sim_transactions = Table(
    "sim_transactions",
    sim_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("reference", String(100), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("requested_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("gateway_response", Text, nullable=True),
    Column("message", Text, nullable=True),
    Column("channel", String(32), nullable=False),
    Column("ip_address", String(64), nullable=True),
    Column("fees", BigInteger, nullable=True),
    Column("customer_id", BigInteger, nullable=False),
    Column("customer_email", String(320), nullable=False),  # lower case, for lookups
    Column("customer", Text, nullable=False),  # JSON object
    Column("authorization", Text, nullable=False),  # JSON object ({} before a payment method)
    Column("metadata", Text, nullable=True),  # JSON value, as the merchant sent it
    Column("log", Text, nullable=True),  # JSON object
    Column("source", Text, nullable=True),  # JSON object (list items only)
    Column("paid_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_sim_transactions_created", "created_at", "id"),
    Index("ix_sim_transactions_customer_email", "customer_email"),
)

# Saved cards: charge_authorization succeeds, or fails with `failure` as the gateway response.
sim_authorizations = Table(
    "sim_authorizations",
    sim_metadata,
    Column("authorization_code", String(64), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("customer", Text, nullable=False),  # JSON object
    Column("authorization", Text, nullable=False),  # JSON object
    Column("failure", Text, nullable=True),  # e.g. "Insufficient Funds"; None = charges succeed
    # the card's bank asks the customer to approve each charge (2FA): charges answer `paused`
    Column("requires_2fa", Boolean, nullable=False, default=False),
)

sim_refunds = Table(
    "sim_refunds",
    sim_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("transaction_id", BigInteger, nullable=False),
    Column("transaction_reference", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("customer_note", Text, nullable=True),
    Column("merchant_note", Text, nullable=True),
    Column("refunded_by", String(320), nullable=True),
    Column("refunded_at", UTCDateTime(), nullable=True),
    Column("expected_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_sim_refunds_transaction", "transaction_id"),
)

sim_meta = Table(
    "sim_meta",
    sim_metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Scripted faults: "the next `remaining` requests matching method + path get `kind`".
sim_faults = Table(
    "sim_faults",
    sim_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("method", String(8), nullable=True),  # None = any method
    Column("path", String(300), nullable=False),  # exact, or a prefix ending in "*"
    Column("kind", String(16), nullable=False),
    Column("status", Integer, nullable=True),  # for kind "error": the HTTP status (default 500)
    Column("remaining", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

FIRST_TRANSACTION_ID = 4_099_260_516
FIRST_REFUND_ID = 3_018_284
INTEGRATION_ID = 412_829
SIM_WRITE_LOCK = "proaudit:simulator-writes"  # advisory lock name for simulator writes on PostgreSQL


def create_sim_schema(bind: Engine | Connection) -> None:
    sim_metadata.create_all(bind)


@contextmanager
def write_conn(engine: Engine) -> Iterator[Connection]:
    """One short write transaction; simulator writes are serialised (one Paystack, one ledger).

    SQLite: the write lock is taken at BEGIN (IMMEDIATE; the `sqlite_begin` hint is honoured by
    engines made with proaudit_ops.db.engine.make_engine). PostgreSQL: a transaction-level
    advisory lock, so ids (max + 1) and reference checks never race.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with conn.begin():
            if conn.dialect.name == "postgresql":
                from proaudit_ops.db.engine import advisory_key

                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(conn, SIM_WRITE_LOCK)})
            yield conn


@contextmanager
def read_conn(engine: Engine) -> Iterator[Connection]:
    """One read transaction: every request sees one consistent snapshot."""
    with engine.connect() as conn, conn.begin():
        yield conn


def next_id(conn: Connection, table: Table, first: int) -> int:
    current = conn.execute(select(func.max(table.c.id))).scalar()
    return first if current is None else int(current) + 1


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
