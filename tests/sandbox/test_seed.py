"""The seeded dataset means what SEEDED_REFERENCES says, in the DB and at Paystack."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from proaudit_ops.db.schema import (
    dunning_records,
    organizations,
    payment_transactions,
    tenant_skus,
    webhook_events,
)
from proaudit_ops.paystack.signatures import verify_signature
from proaudit_ops.sandbox.dataset import (
    ORG_BY_SLUG,
    ORG_IDS,
    PAYMENTS,
    SANDBOX_SECRET_KEY,
    SEEDED_REFERENCES,
    SEEDED_REFUND_ID,
)
from proaudit_ops.sandbox.seed import build_dataset, seed_billing, seed_simulator
from proaudit_ops.sandbox.state import create_sim_schema, sim_transactions
from proaudit_ops.timeutil import as_utc

# reference -> (status in the DB or None, status at Paystack or None)
EXPECTED_SIDES = {
    "PSK-STUCK-0001": ("pending", "success"),
    "PSK-STUCK-0002": ("pending", "success"),
    "PSK-STUCK-0003": ("pending", "success"),
    "PSK-OK-0001": ("success", "success"),
    "PSK-FAILED-0001": ("failed", "failed"),
    "PSK-FAILED-0002": ("failed", "failed"),
    "PSK-ABANDONED-0001": ("pending", "abandoned"),
    "PSK-PENDING-0001": ("pending", "pending"),
    "PSK-AMOUNT-0001": ("success", "success"),
    "PSK-CURRENCY-0001": ("success", "success"),
    "PSK-GHOST-0001": ("pending", None),
    "PSK-ORPHAN-0001": (None, "success"),
    "PSK-MISSED-0001": ("pending", "success"),
    "PSK-REFUND-0001": ("success", "success"),
    "PSK-REFUNDED-0001": ("refunded", "reversed"),
    "PSK-ELIGIBLE-0001": ("success", "success"),
    "PSK-LATE-0001": ("success", "success"),
    "PSK-PSREFUNDED-0001": ("success", "reversed"),
    "PSK-PARTIAL-0001": ("success", "success"),
    "PSK-EXPIRING-0001": ("success", "success"),
    "PSK-REGULATED-0001": ("failed", "failed"),
    "PSK-2FA-0001": ("failed", "failed"),
}


def _payment(engine: Engine, reference: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(payment_transactions).where(payment_transactions.c.reference == reference))
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def _events(engine: Engine, reference: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_events).where(webhook_events.c.reference == reference)).mappings().all()
    return [dict(r) for r in rows]


def _paystack(paystack: httpx.Client, reference: str) -> dict[str, Any] | None:
    response = paystack.get(f"/transaction/verify/{reference}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200
    data: dict[str, Any] = response.json()["data"]
    return data


def test_every_documented_reference_has_its_status_on_both_sides(engine: Engine, paystack: httpx.Client) -> None:
    assert set(EXPECTED_SIDES) == set(SEEDED_REFERENCES)
    for reference, (db_status, ps_status) in EXPECTED_SIDES.items():
        payment = _payment(engine, reference)
        remote = _paystack(paystack, reference)
        assert (payment["status"] if payment else None) == db_status, reference
        assert (remote["status"] if remote else None) == ps_status, reference
        if payment is not None and remote is not None:
            assert payment["paystack_transaction_id"] == remote["id"], reference
        if payment is not None and remote is None:
            assert payment["paystack_transaction_id"] is None


def test_scenario_details(engine: Engine, paystack: httpx.Client, now: datetime) -> None:
    def age(reference: str) -> timedelta:
        payment = _payment(engine, reference)
        assert payment is not None
        created = as_utc(payment["created_at"])
        assert created is not None
        return now - created

    assert timedelta(hours=1, minutes=50) < age("PSK-STUCK-0001") < timedelta(hours=2, minutes=10)
    for stuck in ("PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003"):
        assert timedelta(minutes=15) < age(stuck) < timedelta(hours=24)
    assert age("PSK-PENDING-0001") < timedelta(minutes=6)
    assert timedelta(days=3) <= age("PSK-MISSED-0001") < timedelta(days=4)

    amount_db, amount_ps = (
        _payment(engine, "PSK-AMOUNT-0001"),
        _paystack(paystack, "PSK-AMOUNT-0001"),
    )
    assert amount_db is not None
    assert amount_ps is not None
    assert amount_db["amount_kobo"] != amount_ps["amount"]
    assert amount_db["currency"] == amount_ps["currency"]
    currency_db, currency_ps = (
        _payment(engine, "PSK-CURRENCY-0001"),
        _paystack(paystack, "PSK-CURRENCY-0001"),
    )
    assert currency_db is not None
    assert currency_ps is not None
    assert currency_db["amount_kobo"] == currency_ps["amount"]
    assert currency_db["currency"] != currency_ps["currency"]
    ok_db, ok_ps = _payment(engine, "PSK-OK-0001"), _paystack(paystack, "PSK-OK-0001")
    assert ok_db is not None
    assert ok_ps is not None
    assert (ok_db["amount_kobo"], ok_db["currency"]) == (ok_ps["amount"], ok_ps["currency"])
    assert ok_db["amount_kobo"] == 15_000_000

    failed = _paystack(paystack, "PSK-FAILED-0001")
    assert failed is not None
    assert failed["gateway_response"] == "Insufficient Funds"


def test_the_webhook_inbox_scenarios(engine: Engine) -> None:
    stuck_failed = [r for r in ("PSK-STUCK-0002", "PSK-STUCK-0003") if _events(engine, r)]
    assert stuck_failed
    for reference in stuck_failed:
        (event,) = _events(engine, reference)
        assert event["status"] == "failed"
        assert event["attempts"] > 1
        assert event["last_error"]
    assert _events(engine, "PSK-STUCK-0001") == []
    assert not [e for e in _events(engine, "PSK-MISSED-0001") if e["status"] == "processed"]
    (orphan,) = _events(engine, "PSK-ORPHAN-0001")
    assert orphan["status"] == "failed"
    assert "PSK-ORPHAN-0001" in orphan["last_error"]
    (ok,) = _events(engine, "PSK-OK-0001")
    assert ok["status"] == "processed"
    assert ok["processed_at"] is not None


def test_inbox_bodies_are_signed_paystack_events(engine: Engine, paystack: httpx.Client) -> None:
    with engine.connect() as conn:
        events = conn.execute(select(webhook_events)).mappings().all()
    assert events
    for event in events:
        raw = bytes(event["raw_body"])
        assert verify_signature(raw, event["signature"], SANDBOX_SECRET_KEY)
        body = json.loads(raw)
        assert body["event"] == event["event_type"]
        if event["event_type"] == "charge.success":
            assert body["data"]["reference"] == event["reference"]
            assert body["data"]["status"] == "success"
            remote = _paystack(paystack, event["reference"])
            assert remote is not None
            assert body["data"]["amount"] == remote["amount"]
            assert body["data"]["id"] == remote["id"]
    (refund_event,) = [e for e in events if e["event_type"] == "refund.processed"]
    assert refund_event["reference"] == "PSK-REFUNDED-0001"


def test_the_refunded_payment_matches_its_processed_refund(engine: Engine, paystack: httpx.Client) -> None:
    payment = _payment(engine, "PSK-REFUNDED-0001")
    assert payment is not None
    assert payment["refund_reference"] == str(SEEDED_REFUND_ID)
    assert payment["refund_amount_kobo"] == payment["amount_kobo"]
    assert payment["refunded_at"] is not None
    refund = paystack.get(f"/refund/{SEEDED_REFUND_ID}").json()["data"]
    assert refund["status"] == "processed"
    assert refund["transaction_reference"] == "PSK-REFUNDED-0001"
    assert refund["amount"] == payment["amount_kobo"]


def test_refund_0001_is_refundable(paystack: httpx.Client) -> None:
    txn = _paystack(paystack, "PSK-REFUND-0001")
    assert txn is not None
    assert paystack.get("/refund", params={"transaction": txn["id"]}).json()["data"] == []


def test_every_paystack_transaction_is_complete(engine: Engine) -> None:
    ds = build_dataset(datetime.fromisoformat("2026-01-24T09:00:00+00:00"))
    for row in ds.sim_transactions:
        assert isinstance(row["id"], int)
        for name in ("customer", "authorization", "channel", "gateway_response", "fees", "log"):
            assert row[name] is not None, (row["reference"], name)
        customer = json.loads(row["customer"])
        assert customer["email"]
        if row["status"] in ("success", "failed", "reversed") and row["channel"] == "card":
            assert json.loads(row["authorization"])["reusable"] is True


def test_tenants_payments_and_dunning_cover_every_state(engine: Engine, now: datetime) -> None:
    with engine.connect() as conn:
        skus = conn.execute(select(tenant_skus)).mappings().all()
        payment_statuses = set(conn.execute(select(payment_transactions.c.status)).scalars())
        dunning = set(conn.execute(select(dunning_records.c.status)).scalars())
        orgs = conn.execute(select(func.count()).select_from(organizations)).scalar()
    assert 8 <= int(orgs or 0) <= 20
    states = set()
    for sku in skus:
        end = as_utc(sku["current_period_end"])
        trial = as_utc(sku["trial_ends_at"])
        assert end is not None
        if not sku["is_active"]:
            assert sku["cancellation_reason"]
            states.add("cancelled")
        elif trial is not None and trial > now:
            states.add("trial")
        elif end < now:
            states.add("past_due")
        else:
            states.add("active")
    assert states == {"active", "trial", "past_due", "cancelled"}
    assert payment_statuses == {"pending", "success", "failed", "abandoned", "refunded"}
    assert {"active", "recovered", "exhausted"} <= dunning
    by_org = {sku["organization_id"]: sku for sku in skus}
    assert by_org[ORG_IDS["delta"]]["is_active"] is False
    assert by_org[ORG_IDS["kora"]]["trial_ends_at"] is not None


def test_the_dataset_is_deterministic() -> None:
    now = datetime.fromisoformat("2026-01-24T09:00:00.123456+00:00")
    first, second = build_dataset(now), build_dataset(now)
    assert first == second
    assert first.now.microsecond == 0
    assert {p.ref for p in PAYMENTS} >= set(SEEDED_REFERENCES)
    assert ORG_BY_SLUG["adaeze"].id == ORG_IDS["adaeze"]
    with pytest.raises(ValueError, match="timezone-aware"):
        build_dataset(datetime(2026, 1, 24))


@pytest.mark.postgres
def test_seeding_works_on_postgresql(pg_engine: Engine, engine: Engine, now: datetime) -> None:
    create_sim_schema(pg_engine)
    seed_billing(pg_engine, now=now)
    seed_simulator(pg_engine, now=now)
    for table in (
        organizations,
        tenant_skus,
        payment_transactions,
        dunning_records,
        webhook_events,
        sim_transactions,
    ):
        with pg_engine.connect() as pg, engine.connect() as lite:
            count = select(func.count()).select_from(table)
            assert pg.execute(count).scalar() == lite.execute(count).scalar(), table.name
    with pg_engine.connect() as conn:
        raw = conn.execute(
            select(webhook_events.c.raw_body, webhook_events.c.signature).where(
                webhook_events.c.reference == "PSK-STUCK-0002"
            )
        ).one()
    assert verify_signature(bytes(raw.raw_body), raw.signature, SANDBOX_SECRET_KEY)
    # the simulator runs on PostgreSQL state too
    from sandbox_helpers import paystack_client

    with paystack_client(pg_engine) as client:  # type: ignore[arg-type]
        assert client.get("/transaction/verify/PSK-STUCK-0001").json()["data"]["status"] == "success"
        assert client.post("/refund", json={"transaction": "PSK-REFUND-0001"}).status_code == 200
        charged = client.post(
            "/transaction/charge_authorization",
            json={
                "email": ORG_BY_SLUG["sahel"].email,
                "amount": 100,
                "authorization_code": ORG_BY_SLUG["sahel"].authorization_code,
                "reference": "PG-CHARGE-1",
            },
        )
        assert charged.json()["data"]["status"] == "success"
