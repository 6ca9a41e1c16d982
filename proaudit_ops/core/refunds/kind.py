"""The refund kind of the intent protocol: look a refund up at Paystack, make it, record it.

params (stored on the intent, reviewed in the plan): target (payment id), reference,
transaction_id, amount, currency, reason, downgrade (a tier or None), cancel (bool), baseline
(Paystack refund ids that existed when the refund was planned: never adopted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proaudit_ops.protocols.intents import Effect, Intent

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.paystack import PaystackClient
    from proaudit_ops.paystack.models import Refund
    from proaudit_ops.protocols.guard import ChangeGuard
    from proaudit_ops.protocols.plan import RowChange

TOUCH_PAYMENT = ("refunded_at", "updated_at")  # the time the refund is recorded, set by the guard
TOUCH_SKU = ("updated_at",)
PLACEHOLDER = "(Paystack refund id)"


def effect_of(refund: Refund) -> Effect:
    return Effect(str(refund.id), str(refund.status), int(refund.amount), {"created_at": str(refund.created_at)})


class RefundKind:
    name = "refund"
    action = "refunds.issue"
    command = "refunds"

    def find(self, client: PaystackClient, intent: Intent, claimed: set[str]) -> Effect | None:
        """A refund of this amount on this transaction that nobody here owns yet (oldest first)."""
        params = intent.params
        skip = {str(x) for x in params.get("baseline", [])} | claimed
        found = [
            r
            for r in client.list_refunds(transaction=int(params["transaction_id"]))
            if str(r.id) not in skip and r.status != "failed" and int(r.amount) == int(params["amount"])
        ]
        if not found:
            return None
        return effect_of(min(found, key=lambda r: r.id))

    def perform(self, client: PaystackClient, intent: Intent) -> Effect:
        p = intent.params
        refund = client.create_refund(
            transaction=str(p["transaction_id"]),
            amount=int(p["amount"]),
            currency=str(p["currency"]),
            merchant_note=str(p["reason"]),
        )
        return effect_of(refund)

    def record(self, guard: ChangeGuard, conn: Connection, intent: Intent, effect: Effect) -> list[RowChange]:
        """The payment row (and the subscription) as they must be now that the refund exists."""
        from proaudit_ops.db.schema import payment_transactions as pt

        p = intent.params
        row = guard.lock_rows(conn, pt, pt.c.id == str(p["target"]), expect=1)[0]
        changes: list[RowChange] = []
        if row.get("refund_reference") != effect.id:
            changes.append(payment_change(row, int(p["amount"]), effect.id))
        sku = subscription_change(guard, conn, row, p)
        if sku is not None:
            changes.append(sku)
        return changes


def payment_change(row: dict[str, Any], amount: int, refund_id: str) -> RowChange:
    """refund_reference, the summed refund_amount_kobo, refunded_at; `refunded` only when all is back."""
    from proaudit_ops.protocols.plan import RowChange

    total = int(row.get("refund_amount_kobo") or 0) + amount
    values: dict[str, Any] = {"refund_reference": refund_id, "refund_amount_kobo": total}
    if total >= int(row["amount_kobo"]):
        values["status"] = "refunded"
    return RowChange(
        table="payment_transactions",
        key={"id": row["id"]},
        guards={"status": row["status"], "refund_amount_kobo": row.get("refund_amount_kobo")},
        new_values=values,
        before=row,
        label=str(row["reference"]),
        touch=TOUCH_PAYMENT,
    )


def subscription_change(
    guard: ChangeGuard, conn: Connection, payment: dict[str, Any], params: dict[str, Any]
) -> RowChange | None:
    """--downgrade TIER and/or --cancel-at-period-end on the payment's organization (None: nothing)."""
    from proaudit_ops.db.schema import tenant_skus as ts
    from proaudit_ops.protocols.plan import RowChange

    if not params.get("downgrade") and not params.get("cancel"):
        return None
    rows = guard.lock_rows(conn, ts, ts.c.organization_id == str(payment["organization_id"]), expect=1)
    row = rows[0]
    wanted: dict[str, Any] = {}
    if params.get("downgrade"):
        wanted["tier"] = params["downgrade"]
    if params.get("cancel"):
        wanted["cancel_at_period_end"] = True
        wanted["cancellation_reason"] = params["reason"]
    values = {k: v for k, v in wanted.items() if row.get(k) != v}
    if not values:
        return None
    return RowChange(
        table="tenant_skus",
        key={"id": row["id"]},
        guards={"organization_id": str(payment["organization_id"])},
        new_values=values,
        before=row,
        label=f"subscription of {payment['reference']}",
        touch=TOUCH_SKU,
    )


REFUND = RefundKind()
