"""The seeded refund cases and subscription states mean what the README says, at Paystack and here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from proaudit_ops.core.entitlement import expiring_within, subscription_row, subscription_state
from proaudit_ops.core.subscriptions.orgs import resolve_organization
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import payment_transactions
from proaudit_ops.sandbox.dataset import (
    FIRST_SEEDED_TRANSACTION_ID,
    PAYMENTS,
    SANDBOX_SECRET_KEY,
    SEEDED_REFERENCES,
    SUBSCRIPTION_EXAMPLES,
)
from proaudit_ops.sandbox.seed import build_dataset, seed_simulator
from proaudit_ops.sandbox.sim_refunds import refunded_so_far
from proaudit_ops.sandbox.state import create_sim_schema
from proaudit_ops.sandbox.transport import simulator_transport
from proaudit_ops.timeutil import as_utc

REFUND_CASES = ("PSK-ELIGIBLE-0001", "PSK-LATE-0001", "PSK-PSREFUNDED-0001", "PSK-PARTIAL-0001")


@pytest.fixture
def sandbox(seeded: Engine, now: datetime) -> Engine:
    create_sim_schema(seeded)
    seed_simulator(seeded, now=now)
    return seeded


@pytest.fixture
def paystack(sandbox: Engine) -> Iterator[httpx.Client]:
    transport = simulator_transport(sandbox, None)
    headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
    with httpx.Client(transport=transport, base_url="https://api.paystack.co", headers=headers) as client:
        yield client


def _payment(engine: Engine, reference: str) -> dict[str, Any]:
    with read_only(engine) as conn:
        pt = payment_transactions
        return dict(conn.execute(select(pt).where(pt.c.reference == reference)).mappings().one())


def _remote(paystack: httpx.Client, reference: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    txn = paystack.get(f"/transaction/verify/{reference}").json()["data"]
    refunds = paystack.get("/refund", params={"transaction": txn["id"]}).json()["data"]
    return txn, refunds


def _state(engine: Engine, reference: str, now: datetime) -> str:
    with read_only(engine) as conn:
        sku = subscription_row(conn, str(_payment(engine, reference)["organization_id"]))
    assert sku is not None
    return subscription_state(sku, now)


def test_every_refund_case_is_documented() -> None:
    for reference in (*REFUND_CASES, "PSK-EXPIRING-0001"):
        assert reference in SEEDED_REFERENCES


def test_eligible_paid_5_days_ago_active(sandbox: Engine, paystack: httpx.Client, now: datetime) -> None:
    payment = _payment(sandbox, "PSK-ELIGIBLE-0001")
    paid_at = as_utc(payment["paid_at"])
    assert paid_at is not None and timedelta(days=4) < now - paid_at < timedelta(days=6)
    assert payment["refund_reference"] is None and _state(sandbox, "PSK-ELIGIBLE-0001", now) == "active"
    txn, refunds = _remote(paystack, "PSK-ELIGIBLE-0001")
    assert (txn["status"], refunds) == ("success", [])


def test_late_paid_45_days_ago_still_active(sandbox: Engine, paystack: httpx.Client, now: datetime) -> None:
    payment = _payment(sandbox, "PSK-LATE-0001")
    paid_at = as_utc(payment["paid_at"])
    assert paid_at is not None and timedelta(days=44) < now - paid_at < timedelta(days=46)
    assert _state(sandbox, "PSK-LATE-0001", now) == "active"  # annual: only the 30-day window fails
    txn, refunds = _remote(paystack, "PSK-LATE-0001")
    assert (txn["status"], refunds) == ("success", [])


def test_refunded_at_paystack_but_not_here(sandbox: Engine, paystack: httpx.Client) -> None:
    payment = _payment(sandbox, "PSK-PSREFUNDED-0001")
    assert (payment["status"], payment["refund_reference"], payment["refund_amount_kobo"]) == ("success", None, None)
    txn, refunds = _remote(paystack, "PSK-PSREFUNDED-0001")
    assert txn["status"] == "reversed"
    assert [(r["status"], r["amount"]) for r in refunds] == [("processed", payment["amount_kobo"])]
    with sandbox.connect() as conn:
        assert refunded_so_far(conn, txn["id"]) == payment["amount_kobo"]
    again = paystack.post("/refund", json={"transaction": "PSK-PSREFUNDED-0001"})
    assert again.json()["message"] == "Transaction has been fully reversed"


def test_partially_refunded_adds_up(sandbox: Engine, paystack: httpx.Client) -> None:
    payment = _payment(sandbox, "PSK-PARTIAL-0001")
    assert (payment["status"], payment["refund_amount_kobo"]) == ("success", 5_000_000)
    txn, refunds = _remote(paystack, "PSK-PARTIAL-0001")
    assert txn["status"] == "success"
    assert [(r["status"], r["amount"], str(r["id"])) for r in refunds] == [
        ("processed", 5_000_000, payment["refund_reference"])
    ]
    with sandbox.connect() as conn:
        assert refunded_so_far(conn, txn["id"]) == 5_000_000
    left = payment["amount_kobo"] - 5_000_000
    too_much = paystack.post("/refund", json={"transaction": "PSK-PARTIAL-0001", "amount": left + 1})
    assert too_much.status_code == 400
    rest = paystack.post("/refund", json={"transaction": "PSK-PARTIAL-0001", "amount": left})
    assert rest.status_code == 200
    assert paystack.get("/transaction/verify/PSK-PARTIAL-0001").json()["data"]["status"] == "reversed"


def test_one_documented_organization_per_state(seeded: Engine, now: datetime) -> None:
    with read_only(seeded) as conn:
        for state, name in SUBSCRIPTION_EXAMPLES.items():
            org = resolve_organization(conn, name)
            sku = subscription_row(conn, str(org["id"]))
            assert sku is not None
            if state == "expiring":
                assert expiring_within(sku, now, timedelta(days=7)), name
                assert not expiring_within(sku, now, timedelta(days=1)), name
            else:
                assert subscription_state(sku, now) == state, name


def test_existing_references_keep_their_paystack_ids(now: datetime) -> None:
    """Payments added later get ids after the first seed's, so saved notes and cassettes stay valid."""
    first = sorted((p for p in PAYMENTS if p.batch == 0), key=lambda p: -p.age.total_seconds())
    expected = {p.ref: FIRST_SEEDED_TRANSACTION_ID + i for i, p in enumerate(first) if p.ps}
    actual = {row["reference"]: row["id"] for row in build_dataset(now).sim_transactions}
    assert {ref: actual[ref] for ref in expected} == expected


def test_the_readme_documents_the_new_cases() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for reference in (*REFUND_CASES, "PSK-EXPIRING-0001"):
        assert f"| `{reference}` |" in readme, reference
    for name in SUBSCRIPTION_EXAMPLES.values():
        assert f"`{name}`" in readme, name
