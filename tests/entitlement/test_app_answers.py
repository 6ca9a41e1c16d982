"""What the billing app answers a webhook (the contract in docs/entitlement.md), and how proaudit reads it:
applied, already applied, rejected; anything else is not guessed at."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine, update

from proaudit_ops.core.webhooks.delivery import (
    DELIVERED,
    STILL_FAILING,
    Delivery,
    deliver,
    read_answer,
    verdict,
)
from proaudit_ops.db.schema import payment_transactions
from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.sandbox.billing_app import WEBHOOK_PATH
from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
from proaudit_ops.sandbox.seed import build_dataset
from proaudit_ops.sandbox.transport import app_transport
from proaudit_ops.timeutil import iso

URL = "http://app.test" + WEBHOOK_PATH


def event(now: datetime, reference: str, **changes: object) -> bytes:
    row = next(r for r in build_dataset(now).sim_transactions if r["reference"] == reference)
    data = {
        "id": int(row["id"]),
        "reference": reference,
        "status": "success",
        "amount": int(row["amount"]),
        "currency": row["currency"],
        "paid_at": iso(row["paid_at"]),
        "gateway_response": "Successful",
        "channel": "card",
        **changes,
    }
    return json.dumps({"event": "charge.success", "data": data}).encode()


def post(engine: Engine, body: bytes) -> Delivery:
    with httpx.Client(transport=app_transport(engine, SANDBOX_SECRET_KEY)) as client:
        return deliver(client, URL, body, compute_signature(body, SANDBOX_SECRET_KEY))


def test_applied_then_already_applied(seeded: Engine, now: datetime) -> None:
    first = post(seeded, event(now, "PSK-STUCK-0001"))
    assert (first.status_code, first.answer) == (200, "applied")
    assert first.said() == "applied: payment applied, subscription activated"
    second = post(seeded, event(now, "PSK-STUCK-0001"))
    assert (second.status_code, second.answer) == (200, "already_applied")
    assert second.said() == "already applied (payment is success)"
    assert verdict(second, "processed") == DELIVERED


@pytest.mark.parametrize(
    ("reference", "changes", "status", "detail"),
    [
        ("PSK-ORPHAN-0001", {}, 200, "unknown reference"),  # Paystack has it, the app does not
        ("PSK-STUCK-0001", {"amount": 1}, 422, "amount mismatch"),
        ("PSK-FAILED-0001", {}, 200, "not applied"),  # failed here: not pending
    ],
)
def test_what_the_app_will_not_apply_is_rejected_and_never_delivered(
    seeded: Engine, now: datetime, reference: str, changes: dict[str, object], status: int, detail: str
) -> None:
    got = post(seeded, event(now, reference, **changes))
    assert (got.status_code, got.answer) == (status, "rejected")
    assert got.detail is not None and got.detail.startswith(detail)
    # Even if the inbox said processed, a rejection is not a delivery.
    assert verdict(got, "processed") == STILL_FAILING
    assert got.error  # the screen and the audit record carry the reason


def test_a_rejected_payment_is_left_alone(seeded: Engine, now: datetime) -> None:
    with seeded.begin() as conn:
        conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.reference == "PSK-STUCK-0001")
            .values(status="abandoned")
        )
    assert post(seeded, event(now, "PSK-STUCK-0001")).answer == "rejected"


def response(content: bytes, status: int = 200, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"result": "already applied", "detail": "dup"}', ("already_applied", "dup")),
        (b'{"result": "Already-Applied"}', ("already_applied", None)),
        (b'{"result": " APPLIED ", "detail": "ok\\nsecond line"}', ("applied", "ok")),
        (b'{"result": "rejected", "detail": 5}', ("rejected", None)),
        (b'{"result": "maybe"}', (None, None)),  # an unknown result is not guessed at
        (b'{"status": "processed", "detail": "already applied (payment is success)"}', (None, None)),  # no result
        (b"<html><body>OK</body></html>", (None, None)),
        (b'["applied"]', (None, None)),
        (b"", (None, None)),
        (b'{"result": "applied", "pad": "' + b"x" * 70_000 + b'"}', (None, None)),  # too large to read
        (b"[" * 5000 + b"]" * 5000, (None, None)),  # nested past the parser's recursion limit
    ],
)
def test_reading_the_answer(body: bytes, expected: tuple[str | None, str | None]) -> None:
    assert read_answer(response(body)) == expected


def test_an_answer_that_does_not_say_falls_back_to_the_status_code() -> None:
    silent = Delivery(URL, 200, 3)
    assert silent.said() == "accepted (HTTP 200; the answer does not say whether it applied)"
    assert verdict(silent, None) == DELIVERED  # as before: the caller reads the rows back to know
    assert verdict(Delivery(URL, 502, 3, "bad gateway"), None) == STILL_FAILING
    assert Delivery(URL, None, 3, "timed out", maybe_received=True).said() == "no answer"
