"""`refunds status PAYMENT|REFUND` (Paystack's view beside ours) and `refunds list [--since 7d]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import ExitCode, NotFoundError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.paystack.models import Refund
    from proaudit_ops.protocols.intents import Intent
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class RefundStatus:
    payment: dict[str, Any]
    paystack: list[Refund]  # Paystack's refunds of the transaction (or the one asked for)
    intents: list[Intent]
    asked: str

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def ours(self, refund_id: str) -> str:
        """What our side says about one Paystack refund."""
        for intent in self.intents:
            if intent.external_id == refund_id:
                return f"intent {intent.state}"
        if self.payment.get("refund_reference") == refund_id:
            return "recorded on the payment"
        return "not recorded here"


def refund_status(runtime: Runtime, text: str) -> RefundStatus:
    from sqlalchemy import select

    from proaudit_ops.core.refunds.eligibility import find_payment, transaction_id
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.protocols.intents import intents_for

    key = text.strip()
    client = runtime.paystack()
    if key.isdigit() and len(key) <= 18:  # a Paystack refund id
        refund = client.fetch_refund(int(key))
        with read_only(runtime.engine()) as conn:
            row = None
            if refund.transaction_id is not None:
                row = (
                    conn.execute(select(pt).where(pt.c.paystack_transaction_id == refund.transaction_id))
                    .mappings()
                    .first()
                )
            if row is None and refund.transaction_reference:
                row = conn.execute(select(pt).where(pt.c.reference == refund.transaction_reference)).mappings().first()
            if row is None:
                raise NotFoundError(f"refund {key} is for a transaction this database does not have")
            intents = intents_for(conn, str(row["id"]), "refund")
        return RefundStatus(dict(row), [refund], intents, key)
    with read_only(runtime.engine()) as conn:
        payment = find_payment(conn, key)
        intents = intents_for(conn, str(payment["id"]), "refund")
    refunds = client.list_refunds(transaction=transaction_id(runtime, payment))
    return RefundStatus(payment, sorted(refunds, key=lambda r: r.id), intents, key)


@dataclass(frozen=True)
class RefundListItem:
    intent: Intent
    reference: str | None


@dataclass(frozen=True)
class RefundList:
    since: datetime
    items: list[RefundListItem]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK


def list_refunds(runtime: Runtime, since: timedelta, *, now: datetime | None = None) -> RefundList:
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.protocols.intents import list_intents

    start = (now or utcnow()) - since
    with read_only(runtime.engine()) as conn:
        intents = list_intents(conn, kind="refund", since=start)
    return RefundList(start, [RefundListItem(i, i.params.get("reference")) for i in intents])
