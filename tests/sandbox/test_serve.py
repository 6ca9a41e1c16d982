"""The loopback HTTP server: Paystack routes and app routes on one real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sandbox_helpers import AUTH, WEBHOOK, charge_success, signed
from sqlalchemy import func, select

from proaudit_ops.db.engine import make_engine
from proaudit_ops.db.schema import payment_transactions
from proaudit_ops.sandbox.faults import FaultConfig, script_fault
from proaudit_ops.sandbox.home import sandbox_url
from proaudit_ops.sandbox.serve import start_background_server
from proaudit_ops.sandbox.state import sim_refunds


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "sandbox.db"
    url, stop = start_background_server(path, faults=FaultConfig(timeout_s=5))
    try:
        yield url, path
    finally:
        stop()


def test_verify_and_webhook_over_a_real_socket(server: tuple[str, Path]) -> None:
    url, path = server
    with httpx.Client(base_url=url, headers=AUTH, timeout=5) as client:
        verified = client.get("/transaction/verify/PSK-STUCK-0001")
        assert verified.status_code == 200
        assert verified.json()["data"]["status"] == "success"
        body, headers = signed(charge_success(client, "PSK-STUCK-0001"))
        delivered = client.post(WEBHOOK, content=body, headers=headers)
        assert delivered.status_code == 200
        assert client.get("/health").json() == {"status": "ok", "database": "ok"}
        assert client.get("/transaction/verify/x", headers={"Authorization": ""}).status_code == 401
    engine = make_engine(sandbox_url(path))
    try:
        with engine.connect() as conn:
            status = conn.execute(
                select(payment_transactions.c.status).where(payment_transactions.c.reference == "PSK-STUCK-0001")
            ).scalar()
        assert status == "success"
    finally:
        engine.dispose()


def test_a_timeout_keeps_the_client_waiting_past_its_timeout(server: tuple[str, Path]) -> None:
    url, path = server
    engine = make_engine(sandbox_url(path))
    try:
        script_fault(engine, "/transaction/verify/PSK-OK-0001", "timeout")
        started = time.monotonic()
        with (
            httpx.Client(base_url=url, headers=AUTH, timeout=0.3) as client,
            pytest.raises(httpx.ReadTimeout),
        ):
            client.get("/transaction/verify/PSK-OK-0001")
        assert time.monotonic() - started < 4  # the client's timeout fired, not the server's wait
    finally:
        engine.dispose()


def test_a_dropped_response_closes_the_connection_after_the_refund(
    server: tuple[str, Path],
) -> None:
    url, path = server
    engine = make_engine(sandbox_url(path))
    try:
        script_fault(engine, "/refund", "drop", method="POST")
        with httpx.Client(base_url=url, headers=AUTH, timeout=5) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/refund", json={"transaction": "PSK-REFUND-0001"})
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(sim_refunds)).scalar() == 4
            again = client.post("/refund", json={"transaction": "PSK-REFUND-0001"})
            assert again.status_code == 400
            assert again.json()["message"] == "Transaction has been fully reversed"
    finally:
        engine.dispose()


def test_only_loopback_is_served(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_background_server(tmp_path / "sandbox.db", host="0.0.0.0")
