"""Paystack's JSON shapes, built from simulator rows (reference/paystack-api.md).

Every answer the client reads is validated against Paystack's OpenAPI description by
tests/sandbox/test_simulator_contract.py (allowances for the description's own contradictions are
listed in tests/openapi_contract.py).

One renderer per object so the simulator's answers and the seeded webhook bodies agree byte
for byte on what a transaction looks like.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from proaudit_ops.sandbox.state import INTEGRATION_ID, RowLike, dumps, loads
from proaudit_ops.timeutil import as_utc

TransactionView = Literal["verify", "fetch", "list", "charge", "event"]
# Where Paystack's description (tests/data/paystack-openapi) gives `plan` and `source` as objects;
# verify (and charge_authorization, for plan) answer null, as its VerifyResponse and samples do.
_PLAN_OBJECT_VIEWS = ("fetch", "list", "event")
_SOURCE_VIEWS = ("fetch", "list", "event")

NOT_COMPLETED = "The transaction was not completed"


def ps_time(value: datetime | None) -> str | None:
    """Paystack's timestamp format: `2024-08-22T09:15:02.000Z` (milliseconds, Z)."""
    aware = as_utc(value)
    if aware is None:
        return None
    return aware.strftime("%Y-%m-%dT%H:%M:%S.") + f"{aware.microsecond // 1000:03d}Z"


def paystack_fees(amount: int, currency: str) -> int:
    """Local card fees: 1.5% + ₦100 (the ₦100 waived under ₦2,500), capped at ₦2,000."""
    if currency != "NGN":
        return round(amount * 0.039)
    fee = amount * 15 // 1000 + (10_000 if amount >= 250_000 else 0)
    return min(fee, 200_000)


def make_log(start: datetime, *, status: str, channel: str, failure: str | None = None) -> dict[str, Any]:
    """The `log` object: what the customer did on the checkout."""
    aware = as_utc(start)
    assert aware is not None
    history: list[dict[str, Any]] = [
        {"type": "action", "message": f"Attempted to pay with {channel}", "time": 2},
    ]
    if status in ("success", "reversed"):
        history.append({"type": "success", "message": f"Successfully paid with {channel}", "time": 9})
    elif status == "failed":
        history.append({"type": "error", "message": f"Error: {failure or 'Declined'}", "time": 7})
    else:
        history = [{"type": "open", "message": "Opened payment page", "time": 1}, *history]
    return {
        "start_time": int(aware.timestamp()),
        "time_spent": history[-1]["time"],
        "attempts": 1,
        "errors": 1 if status == "failed" else 0,
        "success": status in ("success", "reversed"),
        "mobile": False,
        "input": [],
        "history": history,
    }


def render_transaction(row: RowLike, domain: str, view: TransactionView = "verify") -> dict[str, Any]:
    paid_at = ps_time(row["paid_at"])
    created_at = ps_time(row["created_at"])
    authorization = loads(row["authorization"]) or {}
    customer = loads(row["customer"])
    metadata = loads(row["metadata"]) if row["metadata"] is not None else None
    log = loads(row["log"])
    common: dict[str, Any] = {
        "id": int(row["id"]),
        "domain": domain,
        "status": row["status"],
        "reference": row["reference"],
    }
    if view == "charge":
        return {
            "amount": int(row["amount"]),
            "currency": row["currency"],
            "transaction_date": created_at,
            "status": row["status"],
            "reference": row["reference"],
            "domain": domain,
            "metadata": charge_metadata(metadata),
            "gateway_response": row["gateway_response"],
            "message": row["message"],
            "channel": row["channel"],
            "ip_address": row["ip_address"],
            "log": log,
            "fees": row["fees"],
            "authorization": authorization,
            "customer": customer,
            "plan": None,
            "id": int(row["id"]),
        }
    body: dict[str, Any] = {
        **common,
        "receipt_number": None,
        "amount": int(row["amount"]),
        "message": row["message"],
        "gateway_response": row["gateway_response"],
        "paid_at": paid_at,
        "created_at": created_at,
        "channel": row["channel"],
        "currency": row["currency"],
        "ip_address": row["ip_address"],
        "metadata": metadata,
        "log": log,
        "fees": row["fees"],
        "fees_split": None,
        "authorization": authorization,
        "customer": customer,
        "plan": {} if view in _PLAN_OBJECT_VIEWS else None,
        "split": {},
        "order_id": None,
        "paidAt": paid_at,
        "createdAt": created_at,
        "requested_amount": int(row["requested_amount"]),
        "pos_transaction_data": None,
        "source": loads(row["source"]) if view in _SOURCE_VIEWS else None,
        "fees_breakdown": None,
        "connect": None,
        "transaction_date": created_at,
        "plan_object": {},
        "subaccount": {},
    }
    if view == "fetch":
        body["helpdesk_link"] = None
    if view == "event":
        for name in ("receipt_number", "connect", "transaction_date", "plan_object", "createdAt"):
            body.pop(name)
    return body


def charge_metadata(metadata: object) -> str:
    """charge_authorization echoes `metadata` as the stringified JSON it takes (`""` when none was sent)."""
    if metadata is None:
        return ""
    if isinstance(metadata, str):
        return metadata
    return dumps(metadata)


def default_refund_notes(reference: str, refunded_by: str) -> tuple[str, str]:
    """(customer_note, merchant_note) Paystack fills in when a refund is created without them."""
    return f"Refund for transaction {reference}", f"Refund for transaction {reference} by {refunded_by}"


def refund_customer(customer: RowLike) -> dict[str, Any]:
    """The customer as refund list/fetch carry it: the transaction's customer fields."""
    return {
        "id": customer.get("id"),
        "first_name": customer.get("first_name"),
        "last_name": customer.get("last_name"),
        "email": customer.get("email"),
        "customer_code": customer.get("customer_code"),
        "phone": customer.get("phone"),
        "metadata": customer.get("metadata"),
        "risk_action": customer.get("risk_action", "default"),
        "international_format_phone": customer.get("international_format_phone"),
    }


def charge_success_event(row: RowLike, domain: str = "test") -> dict[str, Any]:
    return {"event": "charge.success", "data": render_transaction(row, domain, "event")}


def refund_processed_event(refund: RowLike, customer: RowLike, domain: str = "test") -> dict[str, Any]:
    """`refund.processed`: amount is a string and there is no refund id (as Paystack sends it)."""
    return {
        "event": "refund.processed",
        "data": {
            "status": "processed",
            "transaction_reference": refund["transaction_reference"],
            "refund_reference": f"RF{int(refund['id'])}",
            "amount": str(int(refund["amount"])),
            "currency": refund["currency"],
            "processor": "mpgs_zen",
            "customer": {
                "first_name": customer.get("first_name"),
                "last_name": customer.get("last_name"),
                "email": customer.get("email"),
            },
            "integration": INTEGRATION_ID,
            "domain": domain,
        },
    }


def refund_expected_at(created_at: datetime) -> datetime:
    return created_at + timedelta(days=10)


def render_refund_created(refund: RowLike, txn: RowLike, domain: str) -> dict[str, Any]:
    """The `data` of POST /refund: the transaction as an object (with `plan` {} and a `subaccount`
    holding `currency`, as Paystack's description and sample have it)."""
    full = render_transaction(txn, domain, "verify")
    transaction = {
        name: full[name]
        for name in (
            "id",
            "domain",
            "reference",
            "amount",
            "paid_at",
            "channel",
            "currency",
            "authorization",
            "customer",
            "split",
            "order_id",
            "paidAt",
            "pos_transaction_data",
            "source",
            "fees_breakdown",
        )
    }
    transaction.update(plan={}, subaccount={"currency": None})
    return {
        "transaction": transaction,
        "integration": INTEGRATION_ID,
        "deducted_amount": 0,
        "channel": None,
        "merchant_note": refund["merchant_note"],
        "customer_note": refund["customer_note"],
        "status": refund["status"],
        "refunded_by": refund["refunded_by"],
        "expected_at": ps_time(refund["expected_at"]),
        "currency": refund["currency"],
        "domain": domain,
        "amount": int(refund["amount"]),
        "fully_deducted": False,
        "id": int(refund["id"]),
        "createdAt": ps_time(refund["created_at"]),
        "updatedAt": ps_time(refund["updated_at"]),
    }


def render_refund(refund: RowLike, txn: RowLike, domain: str) -> dict[str, Any]:
    """A refund as GET /refund and GET /refund/:id return it: `transaction` is the int id."""
    processed = refund["status"] == "processed"
    amount = int(refund["amount"])
    customer = loads(txn["customer"]) or {}
    return {
        "id": int(refund["id"]),
        "integration": INTEGRATION_ID,
        "domain": domain,
        "transaction": int(refund["transaction_id"]),
        "dispute": None,
        "settlement": None,
        "currency": refund["currency"],
        "amount": amount,
        "status": refund["status"],
        "refunded_at": ps_time(refund["refunded_at"]),
        "refunded_by": refund["refunded_by"],
        "customer_note": refund["customer_note"],
        "merchant_note": refund["merchant_note"],
        "deducted_amount": amount if processed else 0,
        "fully_deducted": 1 if processed else 0,
        "createdAt": ps_time(refund["created_at"]),
        "bank_reference": None,
        "transaction_reference": refund["transaction_reference"],
        "transaction_amount": int(txn["amount"]),
        "reason": refund["merchant_note"],
        "customer": refund_customer(customer),
        "refund_type": "full" if amount >= int(txn["amount"]) else "partial",
        "initiated_by": "merchant",
        "refund_channel": "card" if txn["channel"] == "card" else "bank",
        "session_id": None,
        "collect_account_number": False,
    }


# -- envelopes ---------------------------------------------------------------------------------


def ok(message: str, data: object, meta: RowLike | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": True, "message": message, "data": data}
    if meta is not None:
        body["meta"] = dict(meta)
    return body


def error(
    message: str,
    *,
    type_: str | None = None,
    code: str | None = None,
    next_step: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": False, "message": message}
    if next_step is not None:
        body["meta"] = {"nextStep": next_step}
    if type_ is not None:
        body["type"] = type_
    if code is not None:
        body["code"] = code
    return body


def validation_error(message: str, code: str = "invalid_params", next_step: str | None = None) -> dict[str, Any]:
    return error(
        message,
        type_="validation_error",
        code=code,
        next_step=next_step or "Check the request parameters",
    )


RATE_LIMITED = error(
    "Rate limit exceeded!",
    type_="api_error",
    code="rate_limited",
    next_step="Wait a few minutes before retrying the request",
)
SERVER_ERROR = error("An error occurred. Please try again", type_="api_error", code="unknown")
INVALID_KEY = {"status": False, "message": "Invalid key"}
MALFORMED_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>cloudflare</center></body></html>"
)
