"""Simulator handlers for /refund: create (no over-refund), list by transaction, fetch.

Rules: only a `success` transaction can be refunded; refunds that did not fail count against
the amount; an amount above what is left is refused; the refund that exhausts the amount marks
the transaction `reversed`, after which any refund is refused with "Transaction has been fully
reversed". New refunds are `pending`; as at Paystack they are `processed` a little later: any read
(list, fetch) moves a refund pending for PROCESSING_AFTER on (`set_refund_status` moves one at once,
to any status). Notes left out get Paystack's defaults ("Refund for transaction REF", "... by REFUNDED_BY").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from proaudit_ops.money import to_subunits
from proaudit_ops.sandbox import shapes
from proaudit_ops.sandbox.sim_transactions import BadParam, SimContext, date_filters, positive_int
from proaudit_ops.sandbox.state import (
    FIRST_REFUND_ID,
    RowLike,
    next_id,
    read_conn,
    sim_refunds,
    sim_transactions,
    write_conn,
)
from proaudit_ops.sandbox.wsgi import Request, Response, json_response, parse_form_or_json
from proaudit_ops.timeutil import utcnow

REFUNDED_BY = "billing@tekvwarho.com"
PROCESSING_AFTER = timedelta(seconds=60)  # pending -> processed (Paystack: minutes to days)
REFUND_STATUSES = ("pending", "processing", "needs-attention", "failed", "processed")
FULLY_REVERSED = shapes.validation_error(
    "Transaction has been fully reversed", next_step="This transaction cannot be refunded again"
)


def refunded_so_far(conn: Connection, transaction_id: int) -> int:
    """What counts against the transaction: every refund that has not failed."""
    total = conn.execute(
        select(func.coalesce(func.sum(sim_refunds.c.amount), 0)).where(
            sim_refunds.c.transaction_id == transaction_id, sim_refunds.c.status != "failed"
        )
    ).scalar()
    return int(total or 0)


def _find_transaction(conn: Connection, key: str) -> RowLike | None:
    t = sim_transactions.c
    if key.isdigit():
        row = conn.execute(select(sim_transactions).where(t.id == int(key))).mappings().first()
        if row is not None:
            return row
    return conn.execute(select(sim_transactions).where(t.reference == key)).mappings().first()


def create(ctx: SimContext, request: Request, _params: Mapping[str, str]) -> Response:
    body = parse_form_or_json(request)
    if body is None:
        return json_response(400, shapes.validation_error("Invalid request body: send JSON or form-encoded data"))
    key = str(body.get("transaction") or "").strip()
    if not key:
        return json_response(
            400,
            shapes.validation_error(
                "Transaction reference or id is required",
                code="missing_params",
                next_step="Provide all required params",
            ),
        )
    amount: int | None = None
    if body.get("amount") not in (None, ""):
        try:
            amount = to_subunits(body["amount"])
        except ValueError:
            return json_response(400, shapes.validation_error("Invalid amount"))
        if amount <= 0:
            return json_response(400, shapes.validation_error("Invalid amount"))
    with write_conn(ctx.engine) as conn:
        txn = _find_transaction(conn, key)
        if txn is None:
            return json_response(404, {"status": False, "message": "Transaction not found"})
        currency = str(body.get("currency") or txn["currency"]).upper()
        if currency != txn["currency"]:
            return json_response(
                400,
                shapes.validation_error(f"Currency mismatch: the transaction was paid in {txn['currency']}"),
            )
        if txn["status"] == "reversed":
            return json_response(400, FULLY_REVERSED)
        if txn["status"] != "success":
            return json_response(
                400,
                shapes.validation_error(
                    f"Transaction is {txn['status']}: only successful transactions can be refunded"
                ),
            )
        remaining = int(txn["amount"]) - refunded_so_far(conn, int(txn["id"]))
        if remaining <= 0:
            return json_response(400, FULLY_REVERSED)
        amount = remaining if amount is None else amount
        customer_note, merchant_note = shapes.default_refund_notes(txn["reference"], REFUNDED_BY)
        if amount > remaining:
            return json_response(
                400,
                shapes.validation_error(
                    f"Refund amount cannot be greater than the amount left to refund ({remaining})"
                ),
            )
        values = {
            "id": next_id(conn, sim_refunds, FIRST_REFUND_ID),
            "transaction_id": int(txn["id"]),
            "transaction_reference": txn["reference"],
            "amount": amount,
            "currency": currency,
            "status": "pending",
            "customer_note": _note(body.get("customer_note")) or customer_note,
            "merchant_note": _note(body.get("merchant_note")) or merchant_note,
            "refunded_by": REFUNDED_BY,
            "refunded_at": None,
            "expected_at": shapes.refund_expected_at(ctx.now),
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        conn.execute(sim_refunds.insert().values(**values))
        if amount == remaining:
            conn.execute(
                update(sim_transactions)
                .where(sim_transactions.c.id == txn["id"])
                .values(status="reversed", updated_at=ctx.now)
            )
            txn = {**txn, "status": "reversed"}
    data = shapes.render_refund_created(values, txn, ctx.domain)
    return json_response(200, shapes.ok("Refund has been queued for processing", data))


def advance_pending(engine: Engine, now: datetime) -> int:
    """Refunds pending for PROCESSING_AFTER become processed (refunded_at = when that happened)."""
    r = sim_refunds.c
    due = now - PROCESSING_AFTER
    with write_conn(engine) as conn:
        rows = conn.execute(select(r.id, r.created_at).where(r.status == "pending", r.created_at <= due)).all()
        for row in rows:
            done = row.created_at + PROCESSING_AFTER
            conn.execute(
                update(sim_refunds)
                .where(r.id == row.id, r.status == "pending")
                .values(status="processed", refunded_at=done, updated_at=done)
            )
    return len(rows)


def list_refunds(ctx: SimContext, request: Request, _params: Mapping[str, str]) -> Response:
    r = sim_refunds.c
    advance_pending(ctx.engine, ctx.now)
    try:
        per_page = positive_int(request, "perPage", 50)
        page = positive_int(request, "page", 1)
        where = date_filters(request, r.created_at)
    except BadParam as exc:
        return json_response(400, shapes.validation_error(str(exc)))
    transaction = request.arg("transaction")
    if transaction:
        if not transaction.isdigit():
            return json_response(400, shapes.validation_error("Transaction ID should be numeric."))
        where.append(r.transaction_id == int(transaction))
    currency = request.arg("currency")
    if currency:
        where.append(r.currency == currency.upper())
    joined = sim_refunds.join(sim_transactions, sim_transactions.c.id == r.transaction_id)
    with read_conn(ctx.engine) as conn:
        total = int(conn.execute(select(func.count()).select_from(sim_refunds).where(*where)).scalar() or 0)
        failed = int(
            conn.execute(select(func.count()).select_from(sim_refunds).where(*where, r.status == "failed")).scalar()
            or 0
        )
        rows = (
            conn.execute(
                select(
                    sim_refunds,
                    sim_transactions.c.amount.label("txn_amount"),
                    sim_transactions.c.customer,
                    sim_transactions.c.channel,
                )
                .select_from(joined)
                .where(*where)
                .order_by(r.created_at.desc(), r.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
            .mappings()
            .all()
        )
    data = [shapes.render_refund(row, _txn_view(row), ctx.domain) for row in rows]
    meta = {
        "total": total,
        "skipped": (page - 1) * per_page,
        "perPage": str(per_page),
        "page": page,
        "pageCount": math.ceil(total / per_page),
        "failedRefundCount": failed,
    }
    return json_response(200, shapes.ok("Refunds retrieved", data, meta))


def _note(value: object) -> str | None:
    """The note the caller gave, as given; None when absent or empty (Paystack's default applies)."""
    return None if value is None or value == "" else str(value)


def _txn_view(row: RowLike) -> dict[str, Any]:
    return {"amount": row["txn_amount"], "customer": row["customer"], "channel": row["channel"]}


def fetch(ctx: SimContext, _request: Request, params: Mapping[str, str]) -> Response:
    raw = params["id"]
    if not raw.isdigit():
        return json_response(400, shapes.validation_error("Refund ID should be numeric."))
    advance_pending(ctx.engine, ctx.now)
    with read_conn(ctx.engine) as conn:
        refund = conn.execute(select(sim_refunds).where(sim_refunds.c.id == int(raw))).mappings().first()
        if refund is None:
            return json_response(404, {"status": False, "message": "Refund not found"})
        txn = (
            conn.execute(select(sim_transactions).where(sim_transactions.c.id == refund["transaction_id"]))
            .mappings()
            .one()
        )
    return json_response(200, shapes.ok("Refund retrieved", shapes.render_refund(refund, txn, ctx.domain)))


def set_refund_status(engine: Engine, refund_id: int, status: str) -> None:
    """Move a refund along its lifecycle (tests, drills): a failed refund gives the amount back."""
    if status not in REFUND_STATUSES:
        raise ValueError(f"unknown refund status {status!r}; one of {', '.join(REFUND_STATUSES)}")
    now = utcnow()
    with write_conn(engine) as conn:
        refund = conn.execute(select(sim_refunds).where(sim_refunds.c.id == refund_id)).mappings().one()
        conn.execute(
            update(sim_refunds)
            .where(sim_refunds.c.id == refund_id)
            .values(
                status=status,
                updated_at=now,
                refunded_at=now if status == "processed" else refund["refunded_at"],
            )
        )
        txn = (
            conn.execute(select(sim_transactions).where(sim_transactions.c.id == refund["transaction_id"]))
            .mappings()
            .one()
        )
        left = int(txn["amount"]) - refunded_so_far(conn, int(txn["id"]))
        new_status = "reversed" if left <= 0 else "success"
        if txn["status"] in ("success", "reversed") and txn["status"] != new_status:
            conn.execute(
                update(sim_transactions)
                .where(sim_transactions.c.id == txn["id"])
                .values(status=new_status, updated_at=now)
            )
