"""Monitor tests: a runtime on a chosen database with rows placed relative to now, and the CLI in-process."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest


class Billing:
    """Rows in the billing tables at times relative to `now`."""

    def __init__(self, engine: Any, now: datetime) -> None:
        from proaudit_ops.db.schema import organizations

        self.engine = engine
        self.now = now
        self.org = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(
                organizations.insert(), [{"id": self.org, "name": "Monitor Ltd", "created_at": now, "updated_at": now}]
            )

    def payment(self, status: str, age: timedelta) -> str:
        from proaudit_ops.db.schema import payment_transactions

        ref = f"PSK-MON-{uuid.uuid4().hex[:10]}"
        at = self.now - age
        row = {
            "id": str(uuid.uuid4()),
            "organization_id": self.org,
            "reference": ref,
            "status": status,
            "amount_kobo": 500_000,
            "currency": "NGN",
            "created_at": at,
            "updated_at": at,
            "paid_at": at if status == "success" else None,
        }
        with self.engine.begin() as conn:
            conn.execute(payment_transactions.insert(), [row])
        return ref

    def webhook(self, status: str, age: timedelta, took: timedelta | None = None) -> None:
        from proaudit_ops.db.schema import webhook_events

        received = self.now - age
        row = {
            "id": str(uuid.uuid4()),
            "event_type": "charge.success",
            "reference": None,
            "raw_body": b"{}",
            "status": status,
            "attempts": 1,
            "received_at": received,
            "processed_at": received + took if took is not None else None,
        }
        with self.engine.begin() as conn:
            conn.execute(webhook_events.insert(), [row])

    def dunning(self, status: str, age: timedelta) -> None:
        from proaudit_ops.db.schema import dunning_records

        at = self.now - age
        row = {
            "id": str(uuid.uuid4()),
            "organization_id": self.org,
            "status": status,
            "attempt_count": 1,
            "max_attempts": 4,
            "amount_kobo": 500_000,
            "currency": "NGN",
            "created_at": at,
            "updated_at": at,
        }
        with self.engine.begin() as conn:
            conn.execute(dunning_records.insert(), [row])


@pytest.fixture
def billing(engine: Any) -> Billing:
    from proaudit_ops.timeutil import utcnow

    return Billing(engine, utcnow())


RuntimeOn = Callable[..., Any]


@pytest.fixture
def runtime_on(billing: Billing) -> Iterator[RuntimeOn]:
    """runtime_on(**settings) -> a Runtime on the test's database (Paystack: the simulator, unused)."""
    from proaudit_ops.config import load_settings
    from proaudit_ops.runtime import Runtime

    opened: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        url = billing.engine.url.render_as_string(hide_password=False)
        settings = load_settings(overrides={"database_url": url, "proaudit_paystack_simulator": True, **overrides})
        runtime = Runtime(settings)
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        runtime.close()


@pytest.fixture
def proaudit_cli() -> Callable[..., Any]:
    """proaudit_cli(*args, env=...) -> the result (exit_code, stdout, stderr, json()), in-process."""
    import json
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from proaudit_ops.cli.app import app

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        return SimpleNamespace(
            exit_code=result.exit_code,
            stdout=result.stdout,
            stderr=result.stderr,
            json=lambda: json.loads(result.stdout),
        )

    return run
