"""The simulator's GET /transaction/export against Paystack's OpenAPI description, the CSV file it
links to, and the client's streaming of it (the secret key never goes to the file link)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import httpx
from openapi_contract import response_errors

from proaudit_ops.paystack import PaystackClient
from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
from proaudit_ops.sandbox.home import ensure_sandbox
from proaudit_ops.sandbox.sim_transactions import EXPORT_COLUMNS
from proaudit_ops.sandbox.transport import simulator_transport
from proaudit_ops.timeutil import utcnow

BASE = "https://api.paystack.co"


def _client(tmp_path: Path) -> tuple[httpx.Client, httpx.BaseTransport]:
    engine = ensure_sandbox(tmp_path / "sandbox.db")
    transport = simulator_transport(engine, None)
    auth = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
    return httpx.Client(transport=transport, base_url=BASE, headers=auth), transport


def test_export_answer_matches_the_description_and_links_a_csv(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    since = (utcnow() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = client.get("/transaction/export", params={"from": since})
    body = answer.json()
    assert answer.status_code == 200
    assert response_errors("GET", "/transaction/export", 200, body) == []
    link = body["data"]["path"]
    assert link.startswith(f"{BASE}/exports/") and link.endswith(".csv")
    plain = httpx.Client(transport=client._transport)  # no Authorization: the link is the credential
    file = plain.get(link)
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(file.text)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert {r["reference"] for r in rows} >= {"PSK-STUCK-0001", "PSK-ORPHAN-0001", "PSK-NOTENT-0001"}
    assert "PSK-HIST-0011" not in {r["reference"] for r in rows}  # 75 days ago: outside `from`


def test_bad_dates_and_unknown_links(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    bad = client.get("/transaction/export", params={"from": "yesterday"})
    assert bad.status_code == 400
    assert response_errors("GET", "/transaction/export", 400, bad.json()) == []
    assert client.get(f"{BASE}/exports/bm90LWpzb24=.csv").status_code == 404


def test_client_streams_the_rows_without_sending_the_key(tmp_path: Path) -> None:
    _, transport = _client(tmp_path)
    seen: list[httpx.Request] = []

    class Spy(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return transport.handle_request(request)

    with PaystackClient(SANDBOX_SECRET_KEY, transport=Spy()) as paystack:
        link = paystack.export_transactions(from_=utcnow() - timedelta(days=30))
        rows = list(paystack.iter_export_rows(link))
    assert len(rows) >= 20 and all(r["reference"] for r in rows)
    assert "authorization" in seen[0].headers
    assert "authorization" not in seen[1].headers and seen[1].url.path.startswith("/exports/")
