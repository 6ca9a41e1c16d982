"""The billing schema contract (DESIGN.md), defined once, usable on PostgreSQL and SQLite.

The application's tables are described as the runbook's SQL uses them; the tool's own tables
(`ops_*`) live beside them. IDs are UUID strings with dashes on both databases, money is
BIGINT subunits, time is timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; naive-UTC on SQLite; always aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database: use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _uuid() -> Uuid[str]:
    # as_uuid=False: strings with dashes on both databases.
    return Uuid(as_uuid=False)


def _timestamps() -> list[Column[Any]]:
    return [
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    ]


organizations = Table(
    "organizations",
    metadata,
    Column("id", _uuid(), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=True),
    Column("paystack_customer_code", String(64), nullable=True),
    *_timestamps(),
)

tenant_skus = Table(
    "tenant_skus",
    metadata,
    Column("id", _uuid(), primary_key=True),
    Column("organization_id", _uuid(), ForeignKey("organizations.id"), nullable=False, unique=True),
    Column("tier", String(32), nullable=False),
    Column("billing_cycle", String(16), nullable=False),
    Column("current_period_start", UTCDateTime(), nullable=True),
    Column("current_period_end", UTCDateTime(), nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("trial_ends_at", UTCDateTime(), nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False),
    Column("cancellation_reason", Text, nullable=True),
    *_timestamps(),
)

payment_transactions = Table(
    "payment_transactions",
    metadata,
    Column("id", _uuid(), primary_key=True),
    Column("organization_id", _uuid(), ForeignKey("organizations.id"), nullable=False),
    Column("reference", String(100), nullable=False, unique=True),
    Column("paystack_transaction_id", BigInteger, nullable=True),
    Column("status", String(20), nullable=False),
    Column("amount_kobo", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, default="NGN"),
    Column("gateway_response", Text, nullable=True),
    Column("channel", String(32), nullable=True),
    Column("paid_at", UTCDateTime(), nullable=True),
    Column("refund_reference", String(100), nullable=True),
    Column("refund_amount_kobo", BigInteger, nullable=True),
    Column("refunded_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    Index("ix_payment_transactions_status_created", "status", "created_at"),
    Index("ix_payment_transactions_org", "organization_id", "created_at"),
)

dunning_records = Table(
    "dunning_records",
    metadata,
    Column("id", _uuid(), primary_key=True),
    Column("organization_id", _uuid(), ForeignKey("organizations.id"), nullable=False),
    Column("payment_transaction_id", _uuid(), ForeignKey("payment_transactions.id"), nullable=True),
    Column("status", String(20), nullable=False),
    Column("attempt_count", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=4),
    Column("amount_kobo", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, default="NGN"),
    Column("last_failure_reason", Text, nullable=True),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("next_retry_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    Index("ix_dunning_records_org", "organization_id", "created_at"),
)

# The app's webhook inbox: what it received, byte for byte, and what became of it.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", _uuid(), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("reference", String(100), nullable=True),
    Column("raw_body", LargeBinary, nullable=False),
    Column("signature", String(200), nullable=True),
    Column("status", String(16), nullable=False),  # received | processed | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=True),
    Index("ix_webhook_events_status", "status", "received_at"),
    Index("ix_webhook_events_reference", "reference"),
)

# -- the tool's own tables ----------------------------------------------------------------

ops_audit_log = Table(
    "ops_audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("command", Text, nullable=False),
    Column("incident", String(100), nullable=True),
    Column("action", String(100), nullable=False),
    Column("target", String(200), nullable=True),
    # Canonical JSON as text (not JSONB, which reorders keys): the hash covers these bytes.
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("external_ids", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_ops_audit_log_target", "target"),
    Index("ix_ops_audit_log_incident", "incident"),
)

ops_intents = Table(
    "ops_intents",
    metadata,
    Column("op_key", String(200), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),  # started | unknown | done | failed
    Column("external_id", String(100), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    *_timestamps(),
)

ops_incidents = Table(
    "ops_incidents",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("title", Text, nullable=False),
    Column("severity", String(4), nullable=True),
    Column("status", String(16), nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    # The post-incident review's timeline: who acknowledged it and when, who closed it and how.
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("resolution", Text, nullable=True),
)

# Notes on an incident, shared by every operator on it (the report's timeline reads them).
ops_incident_notes = Table(
    "ops_incident_notes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("incident_id", String(100), ForeignKey("ops_incidents.id"), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("author", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_ops_incident_notes_incident", "incident_id"),
)

# reconcile: one row per run (its window, source and checkpoint), and the Paystack rows it staged.
# The staged rows of a page and the checkpoint that counts them commit together, so an interrupted
# run resumes from the last committed page (`reconcile --resume`).
ops_reconcile_runs = Table(
    "ops_reconcile_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("window_from", UTCDateTime(), nullable=False),
    Column("window_to", UTCDateTime(), nullable=False),
    Column("source", String(16), nullable=False),  # api | export
    Column("state", String(16), nullable=False),  # staging | staged | done
    Column("phase", String(16), nullable=False),  # transactions | refunds | compared
    Column("cursor", Text, nullable=True),  # the next page's cursor (api) or rows consumed (export)
    Column("pages", Integer, nullable=False, default=0),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
)

ops_reconcile_rows = Table(
    "ops_reconcile_rows",
    metadata,
    Column("run_id", String(36), nullable=False),
    Column("kind", String(8), nullable=False),  # tx | refund
    Column("paystack_id", BigInteger, nullable=True),
    Column("reference", String(100), nullable=True),
    Column("status", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("requested_amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("paid_at", UTCDateTime(), nullable=True),
    Column("gateway_response", Text, nullable=True),
    Column("channel", String(32), nullable=True),
    Column("transaction_id", BigInteger, nullable=True),  # a refund's transaction
    Column("metadata", Text, nullable=True),  # JSON, as Paystack handed it back
    Index("ix_ops_reconcile_rows_run", "run_id", "kind", "reference"),
)

APP_TABLES = (
    "organizations",
    "tenant_skus",
    "payment_transactions",
    "dunning_records",
    "webhook_events",
)
TOOL_TABLES = (
    "ops_audit_log",
    "ops_intents",
    "ops_incidents",
    "ops_incident_notes",
    "ops_reconcile_runs",
    "ops_reconcile_rows",
)
