"""Helpers shared by the sandbox tests (imported as a top-level module, like paystack_fakes)."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
from proaudit_ops.sandbox.faults import AppFaultConfig, FaultConfig
from proaudit_ops.sandbox.state import dumps
from proaudit_ops.sandbox.transport import (
    FaultTranslatingTransport,
    app_transport,
    simulator_transport,
)
from proaudit_ops.sandbox.wsgi import WSGIApp

BASE_URL = "https://api.paystack.co"
AUTH = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
WEBHOOK = "/api/v1/billing/webhook/paystack"


def paystack_client(engine: Engine, faults: FaultConfig | None = None) -> httpx.Client:
    return httpx.Client(transport=simulator_transport(engine, faults), base_url=BASE_URL, headers=AUTH)


def app_client(engine: Engine, faults: AppFaultConfig | None = None) -> httpx.Client:
    transport = app_transport(engine, SANDBOX_SECRET_KEY, faults, script_engine=engine)
    return httpx.Client(transport=transport, base_url="http://billing.internal")


def wsgi_client(app: WSGIApp, base_url: str = BASE_URL) -> httpx.Client:
    """For tests that build the WSGI app themselves (fake clock or sleep)."""
    return httpx.Client(transport=FaultTranslatingTransport(app), base_url=base_url, headers=AUTH)


def signed(event: object, key: str = SANDBOX_SECRET_KEY) -> tuple[bytes, dict[str, str]]:
    body = dumps(event).encode()
    headers = {
        "x-paystack-signature": compute_signature(body, key),
        "content-type": "application/json",
    }
    return body, headers


def charge_success(paystack: httpx.Client, reference: str, **overrides: object) -> dict[str, object]:
    """The charge.success event Paystack would send for a transaction the simulator knows."""
    data = paystack.get(f"/transaction/verify/{reference}").json()["data"]
    data.update(overrides)
    return {"event": "charge.success", "data": data}
