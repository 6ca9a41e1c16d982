"""The billing app's webhook endpoint and /health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_helpers import WEBHOOK, app_client, charge_success, signed
from sqlalchemy import Engine, select

from proaudit_ops.db.engine import make_engine
from proaudit_ops.db.schema import payment_transactions, tenant_skus, webhook_events
from proaudit_ops.sandbox.billing_app import add_period
from proaudit_ops.sandbox.dataset import ORG_IDS
from proaudit_ops.sandbox.faults import AppFaultConfig, script_fault
from proaudit_ops.sandbox.seed import seed_billing
from proaudit_ops.sandbox.transport import app_transport
from proaudit_ops.timeutil import as_utc, parse_iso


def _payment(engine: Engine, reference: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = (
            conn.execute(select(payment_transactions).where(payment_transactions.c.reference == reference))
            .mappings()
            .one()
        )
    return dict(row)


def _sku(engine: Engine, org: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(tenant_skus).where(tenant_skus.c.organization_id == ORG_IDS[org])).mappings().one()
    return dict(row)


def _inbox(engine: Engine, reference: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_events).where(webhook_events.c.reference == reference)).mappings().all()
    return [dict(r) for r in rows]


def _deliver(app: httpx.Client, event: object) -> httpx.Response:
    body, headers = signed(event)
    return app.post(WEBHOOK, content=body, headers=headers)


def test_a_bad_or_missing_signature_is_401_and_nothing_is_recorded(
    engine: Engine, app: httpx.Client, paystack: httpx.Client
) -> None:
    body, _ = signed(charge_success(paystack, "PSK-STUCK-0001"))
    _, wrong = signed({"other": 1})
    assert app.post(WEBHOOK, content=body, headers=wrong).status_code == 401
    assert app.post(WEBHOOK, content=body).status_code == 401
    _, other_key = signed(charge_success(paystack, "PSK-STUCK-0001"), key="sk_test_someoneelse")
    assert app.post(WEBHOOK, content=body, headers=other_key).status_code == 401
    assert _inbox(engine, "PSK-STUCK-0001") == []
    assert _payment(engine, "PSK-STUCK-0001")["status"] == "pending"


def test_non_json_is_400_and_too_large_is_413(app: httpx.Client) -> None:
    from proaudit_ops.paystack.signatures import compute_signature
    from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY

    junk = b"not json at all"
    headers = {"x-paystack-signature": compute_signature(junk, SANDBOX_SECRET_KEY)}
    assert app.post(WEBHOOK, content=junk, headers=headers).status_code == 400
    huge = b"{" + b" " * (1024 * 1024) + b"}"
    response = app.post(WEBHOOK, content=huge, headers={"x-paystack-signature": "0" * 128})
    assert response.status_code == 413


def test_charge_success_applies_once(engine: Engine, app: httpx.Client, paystack: httpx.Client) -> None:
    event = charge_success(paystack, "PSK-STUCK-0001")
    first = _deliver(app, event)
    assert first.status_code == 200
    payment = _payment(engine, "PSK-STUCK-0001")
    assert payment["status"] == "success"
    paid_at = parse_iso(event["data"]["paid_at"])  # type: ignore[index]
    assert as_utc(payment["paid_at"]) == paid_at
    assert payment["gateway_response"] == "Successful"
    sku = _sku(engine, "bluewave")
    assert sku["is_active"] is True
    assert as_utc(sku["current_period_start"]) == paid_at
    assert paid_at is not None
    assert as_utc(sku["current_period_end"]) == add_period(paid_at, "monthly")

    second = _deliver(app, event)
    assert second.status_code == 200
    assert _payment(engine, "PSK-STUCK-0001") == payment  # nothing changed, not even updated_at
    assert _sku(engine, "bluewave") == sku
    (row,) = _inbox(engine, "PSK-STUCK-0001")
    assert row["attempts"] == 2
    assert row["status"] == "processed"
    assert row["last_error"] is None


def test_charge_success_converts_a_trial(engine: Engine, app: httpx.Client, paystack: httpx.Client) -> None:
    assert _sku(engine, "kora")["trial_ends_at"] is not None
    assert _deliver(app, charge_success(paystack, "PSK-STUCK-0002")).status_code == 200
    sku = _sku(engine, "kora")
    assert sku["trial_ends_at"] is None
    assert sku["is_active"] is True
    (row,) = _inbox(engine, "PSK-STUCK-0002")  # the seeded failed row, updated
    assert row["status"] == "processed"
    assert row["attempts"] == 4
    assert row["last_error"] is None


def test_replaying_the_seeded_raw_body_fixes_the_payment(engine: Engine, app: httpx.Client) -> None:
    (seeded,) = _inbox(engine, "PSK-STUCK-0003")
    response = app.post(WEBHOOK, content=seeded["raw_body"], headers={"x-paystack-signature": seeded["signature"]})
    assert response.status_code == 200
    assert _payment(engine, "PSK-STUCK-0003")["status"] == "success"
    assert _sku(engine, "obi")["is_active"] is True


def test_unknown_reference_is_200_and_failed(engine: Engine, app: httpx.Client, paystack: httpx.Client) -> None:
    response = _deliver(app, charge_success(paystack, "PSK-ORPHAN-0001"))
    assert response.status_code == 200
    (row,) = _inbox(engine, "PSK-ORPHAN-0001")
    assert row["status"] == "failed"
    assert row["attempts"] == 3
    assert "PSK-ORPHAN-0001" in row["last_error"]


@pytest.mark.parametrize(("field", "value"), [("amount", 14_999_999), ("currency", "USD")])
def test_a_mismatch_is_422_and_leaves_the_payment_pending(
    engine: Engine, app: httpx.Client, paystack: httpx.Client, field: str, value: object
) -> None:
    response = _deliver(app, charge_success(paystack, "PSK-STUCK-0001", **{field: value}))
    assert response.status_code == 422
    assert _payment(engine, "PSK-STUCK-0001")["status"] == "pending"
    (row,) = _inbox(engine, "PSK-STUCK-0001")
    assert row["status"] == "failed"
    assert f"{field} mismatch" in row["last_error"]


def test_a_500_fault_records_a_failed_event_and_leaves_the_payment(engine: Engine, paystack: httpx.Client) -> None:
    event = charge_success(paystack, "PSK-STUCK-0001")
    with app_client(engine, AppFaultConfig(status=500)) as broken:
        assert _deliver(broken, event).status_code == 500
        assert broken.get("/health").status_code == 500
    assert _payment(engine, "PSK-STUCK-0001")["status"] == "pending"
    (row,) = _inbox(engine, "PSK-STUCK-0001")
    assert row["status"] == "failed"
    assert "simulated application error" in row["last_error"]
    with app_client(engine) as healthy:
        assert _deliver(healthy, event).status_code == 200
    (row,) = _inbox(engine, "PSK-STUCK-0001")
    assert (row["status"], row["attempts"]) == ("processed", 2)
    assert _payment(engine, "PSK-STUCK-0001")["status"] == "success"


def test_a_proxy_error_and_a_timeout_record_nothing(engine: Engine, paystack: httpx.Client) -> None:
    event = charge_success(paystack, "PSK-STUCK-0001")
    with app_client(engine, AppFaultConfig(status=503)) as down:
        assert _deliver(down, event).status_code == 503
    with (
        app_client(engine, AppFaultConfig(timeout_rate=1.0)) as slow,
        pytest.raises(httpx.ReadTimeout),
    ):
        _deliver(slow, event)
    assert _inbox(engine, "PSK-STUCK-0001") == []
    assert _payment(engine, "PSK-STUCK-0001")["status"] == "pending"


def test_a_scripted_app_fault_hits_the_next_delivery_only(
    engine: Engine, app: httpx.Client, paystack: httpx.Client
) -> None:
    script_fault(engine, WEBHOOK, "error")
    event = charge_success(paystack, "PSK-STUCK-0001")
    assert _deliver(app, event).status_code == 500
    assert _deliver(app, event).status_code == 200


def test_other_events_are_recorded(engine: Engine, app: httpx.Client) -> None:
    event = {
        "event": "refund.processed",
        "data": {"transaction_reference": "PSK-REFUND-0001", "amount": "100"},
    }
    assert _deliver(app, event).status_code == 200
    (row,) = [r for r in _inbox(engine, "PSK-REFUND-0001") if r["event_type"] == "refund.processed"]
    assert row["status"] == "processed"
    assert _payment(engine, "PSK-REFUND-0001")["status"] == "success"


def test_health(app: httpx.Client, tmp_path: Path) -> None:
    assert app.get("/health").json() == {"status": "ok", "database": "ok"}
    broken = make_engine(f"sqlite+pysqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    with httpx.Client(transport=app_transport(broken, "sk_test_x"), base_url="http://app") as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "error"


def test_add_period_clamps_the_day() -> None:
    jan31 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    assert add_period(jan31, "monthly") == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert add_period(jan31, "annual") == datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    assert add_period(datetime(2024, 2, 29, tzinfo=UTC), "yearly") == datetime(2025, 2, 28, tzinfo=UTC)


@pytest.mark.postgres
def test_the_app_works_on_postgresql(pg_engine: Engine, paystack: httpx.Client, now: datetime) -> None:
    seed_billing(pg_engine, now=now)
    event = charge_success(paystack, "PSK-STUCK-0001")
    with app_client(pg_engine) as app:
        assert _deliver(app, event).status_code == 200
        assert _deliver(app, event).status_code == 200
    assert _payment(pg_engine, "PSK-STUCK-0001")["status"] == "success"
    (row,) = _inbox(pg_engine, "PSK-STUCK-0001")
    assert row["attempts"] == 2
