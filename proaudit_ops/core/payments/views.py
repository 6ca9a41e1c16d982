"""One transaction as each side sees it, and how to read it from each side."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.money import Money

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.paystack import PaystackClient, Transaction


@dataclass(frozen=True)
class TxView:
    source: str  # "database" | "paystack"
    found: bool
    status: str | None = None
    amount: Money | None = None
    currency: str | None = None
    paid_at: datetime | None = None
    gateway_response: str | None = None
    channel: str | None = None
    paystack_id: int | None = None
    requested_amount: Money | None = None
    # Paystack's `metadata` as the verify answer carried it (what the payment bought: core/entitlement.py).
    # Kept out of JSON output: merchants put other things there too.
    _metadata: object = field(default=None, repr=False, compare=False)


def database_view(row: dict[str, Any] | None) -> TxView:
    if row is None:
        return TxView(source="database", found=False)
    return TxView(
        source="database",
        found=True,
        status=row["status"],
        amount=Money(int(row["amount_kobo"]), row["currency"]),
        currency=row["currency"],
        paid_at=row["paid_at"],
        gateway_response=row["gateway_response"],
        channel=row["channel"],
        paystack_id=row["paystack_transaction_id"],
    )


def paystack_view(tx: Transaction | None) -> TxView:
    if tx is None:
        return TxView(source="paystack", found=False)
    requested = tx.requested_amount
    return TxView(
        source="paystack",
        found=True,
        status=tx.status,
        amount=Money(tx.amount, tx.currency),
        currency=tx.currency,
        paid_at=tx.paid_at,
        gateway_response=tx.gateway_response,
        channel=tx.channel,
        paystack_id=tx.id,
        requested_amount=Money(requested, tx.currency) if requested is not None else None,
        _metadata=tx.metadata,
    )


def read_payment_row(conn: Connection, reference: str) -> dict[str, Any] | None:
    from sqlalchemy import select

    from proaudit_ops.db.schema import payment_transactions

    row = (
        conn.execute(select(payment_transactions).where(payment_transactions.c.reference == reference))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def fetch_at_paystack(client: PaystackClient, reference: str) -> Transaction | None:
    """Paystack's record, or None when Paystack does not know the reference."""
    from proaudit_ops.errors import PaystackNotFound

    try:
        return client.verify_transaction(reference)
    except PaystackNotFound:
        return None
