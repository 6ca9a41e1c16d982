"""The `charge.success` event the tool builds from Paystack's own record of a transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proaudit_ops.timeutil import iso

if TYPE_CHECKING:
    from proaudit_ops.paystack import Transaction


def charge_success_event(tx: Transaction) -> dict[str, Any]:
    """Deterministic for a given Paystack record: replays of one reference are the same bytes."""
    data: dict[str, Any] = {
        "id": tx.id,
        "domain": tx.domain,
        "status": tx.status,
        "reference": tx.reference,
        "amount": tx.amount,
        "currency": tx.currency,
        "message": tx.message,
        "gateway_response": tx.gateway_response,
        "paid_at": iso(tx.paid_at),
        "created_at": iso(tx.created_at),
        "channel": tx.channel,
        "metadata": tx.metadata,
        "customer": tx.customer.model_dump(mode="json") if tx.customer else None,
        "authorization": tx.authorization.model_dump(mode="json") if tx.authorization else None,
    }
    return {"event": "charge.success", "data": data}
