"""`refunds check PAYMENT`: the runbook's eligibility, the refundable amount, and why not.

Eligible when: the payment is paid (`success`; a partial refund recorded here leaves the rest
refundable), paid within REFUND_WINDOW, Paystack holds no refund this database does not know
(its non-failed refunds add up to what `refund_amount_kobo` records), no refund intent on it is
open, and the organization's subscription is active. Each failed rule is one line.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import ExitCode, NotFoundError
from proaudit_ops.money import format_amount
from proaudit_ops.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.paystack.models import Refund
    from proaudit_ops.protocols.intents import Intent
    from proaudit_ops.runtime import Runtime

REFUND_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Eligibility:
    payment: dict[str, Any]
    subscription_state: str | None
    paystack_refunds: list[Refund]
    intents: list[Intent]
    refunded_here: int
    refunded_at_paystack: int
    refundable: int
    reasons: list[str] = field(default_factory=list)  # why not eligible, one line each
    notes: list[str] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.eligible else ExitCode.FINDING

    @property
    def currency(self) -> str:
        return str(self.payment["currency"])

    @property
    def reference(self) -> str:
        return str(self.payment["reference"])


def find_payment(conn: Connection, text: str) -> dict[str, Any]:
    """PAYMENT as typed: the row's UUID or its reference (exit 2 when there is none)."""
    from sqlalchemy import select

    from proaudit_ops.core.references import validate_reference
    from proaudit_ops.db.schema import payment_transactions as pt

    key = text.strip()
    try:
        as_id: str | None = str(uuid.UUID(key)) if len(key) == 36 else None
    except ValueError:
        as_id = None
    if as_id is not None:
        row = conn.execute(select(pt).where(pt.c.id == as_id)).mappings().first()
    else:
        row = conn.execute(select(pt).where(pt.c.reference == validate_reference(key))).mappings().first()
    if row is None:
        raise NotFoundError(f"no payment {key} in the database", hint=f"check it: proaudit payments verify {key}")
    return dict(row)


def transaction_id(runtime: Runtime, payment: dict[str, Any]) -> int:
    """Paystack's transaction id: the row's, or Paystack's own when the row has none."""
    if payment.get("paystack_transaction_id") is not None:
        return int(payment["paystack_transaction_id"])
    found = runtime.paystack().verify_transaction(str(payment["reference"]))
    if found.id is None:
        raise NotFoundError(f"Paystack has no transaction id for {payment['reference']}")
    return int(found.id)


def assess(
    conn: Connection,
    payment: dict[str, Any],
    refunds: list[Refund],
    now: datetime,
) -> Eligibility:
    """The rules over the row, its subscription, its intents and Paystack's refunds (read before)."""
    from proaudit_ops.core.entitlement import subscription_row, subscription_state
    from proaudit_ops.protocols.intents import OPEN_STATES, intents_for

    currency = str(payment["currency"])
    reasons: list[str] = []
    notes: list[str] = []
    amount = int(payment["amount_kobo"])
    here = int(payment.get("refund_amount_kobo") or 0)
    live = [r for r in refunds if r.status != "failed"]
    at_paystack = sum(int(r.amount) for r in live)
    intents = intents_for(conn, str(payment["id"]), "refund")
    open_ = [i for i in intents if i.state in OPEN_STATES]
    status = str(payment["status"])
    if open_:
        reasons.append(
            f"a refund is in progress: intent {open_[0].op_key} is {open_[0].state} "
            f"(finish it: proaudit refunds resume {open_[0].op_key})"
        )
    if status == "refunded" or (status == "success" and here >= amount):
        reasons.append(
            f"already refunded in full here ({format_amount(here, currency)}, refund {payment['refund_reference']})"
        )
    elif status != "success":
        reasons.append(f"not paid: the payment is {status}")
    elif here:
        notes.append(
            f"partially refunded before: {format_amount(here, currency)} (refund {payment['refund_reference']})"
        )
    if not open_ and at_paystack > here:
        unknown = ", ".join(f"{r.id} {format_amount(int(r.amount), currency)} {r.status}" for r in live)
        reasons.append(
            f"refunded at Paystack but not recorded here: Paystack has {format_amount(at_paystack, currency)} "
            f"({unknown}), the database {format_amount(here, currency)}"
        )
    paid_at = as_utc(payment.get("paid_at"))
    if paid_at is None:
        if status == "success":
            reasons.append("no paid_at on the row: when it was paid is unknown")
    elif now - paid_at > REFUND_WINDOW:
        reasons.append(
            f"paid {(now - paid_at).days} days ago ({paid_at.date().isoformat()}): "
            f"outside the {REFUND_WINDOW.days}-day refund window"
        )
    sku = subscription_row(conn, str(payment["organization_id"]))
    state = subscription_state(sku, now) if sku is not None else None
    if state != "active":
        reasons.append(f"the subscription is {state or 'missing'}, not active")
    refundable = max(0, amount - max(here, at_paystack)) if status == "success" else 0
    return Eligibility(payment, state, refunds, intents, here, at_paystack, refundable, reasons, notes)


def check_refund(runtime: Runtime, payment_text: str, *, now: datetime | None = None) -> Eligibility:
    from proaudit_ops.db.engine import read_only

    now = now or utcnow()
    with read_only(runtime.engine()) as conn:
        payment = find_payment(conn, payment_text)
    refunds = runtime.paystack().list_refunds(transaction=transaction_id(runtime, payment))
    with read_only(runtime.engine()) as conn:
        return assess(conn, payment, refunds, now)
