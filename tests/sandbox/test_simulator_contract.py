"""Every simulator answer the tool reads, validated against Paystack's OpenAPI description.

The oracle and its documented allowances (where the description contradicts itself) live in
tests/openapi_contract.py. Each endpoint the client calls is exercised in every state the seed holds:
verify and fetch of every seeded transaction, every offset and cursor page, initialize, charges that
succeed and fail, refunds with and without notes, by reference and by id, and the error answers.
"""

from __future__ import annotations

import json

import httpx
import pytest
from openapi_contract import response_errors
from sandbox_helpers import BASE_URL
from sqlalchemy import Engine, select

from proaudit_ops.sandbox.dataset import ORG_BY_SLUG
from proaudit_ops.sandbox.faults import script_fault
from proaudit_ops.sandbox.state import sim_transactions
from proaudit_ops.sandbox.transport import simulator_transport


def _checked(response: httpx.Response) -> dict[str, object]:
    """The answer's JSON body, after asserting that the description allows it."""
    body = response.json()
    problems = response_errors(response.request.method, response.request.url.path, response.status_code, body)
    assert problems == [], f"{response.request.method} {response.request.url}: {problems}"
    assert isinstance(body, dict)
    return body


def _rows(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        found = conn.execute(select(sim_transactions.c.id, sim_transactions.c.reference))
        return [(int(row.id), str(row.reference)) for row in found]


def test_verify_and_fetch_of_every_seeded_transaction(paystack: httpx.Client, engine: Engine) -> None:
    rows = _rows(engine)
    assert len(rows) >= 10
    statuses = set()
    for txn_id, reference in rows:
        verified = _checked(paystack.get(f"/transaction/verify/{reference}"))
        fetched = _checked(paystack.get(f"/transaction/{txn_id}"))
        statuses.add(verified["data"]["status"])  # type: ignore[index]
        assert fetched["data"]["reference"] == reference  # type: ignore[index]
    assert {"success", "failed", "abandoned", "reversed"} <= statuses


def test_every_offset_and_cursor_page(paystack: httpx.Client) -> None:
    pages = 0
    page = 1
    while True:
        body = _checked(paystack.get("/transaction", params={"perPage": 4, "page": page}))
        pages += 1
        if page >= body["meta"]["pageCount"]:  # type: ignore[index]
            break
        page += 1
    for status in ("success", "failed", "abandoned", "reversed"):
        _checked(paystack.get("/transaction", params={"status": status}))
    cursor: str | None = None
    while True:
        params = {"use_cursor": "true", "perPage": "4", **({"next": cursor} if cursor else {})}
        body = _checked(paystack.get("/transaction", params=params))
        pages += 1
        cursor = body["meta"]["next"]  # type: ignore[index]
        if not cursor:
            break
    assert pages > 4


def test_initialize_then_read_the_abandoned_transaction(paystack: httpx.Client) -> None:
    created = _checked(
        paystack.post(
            "/transaction/initialize",
            json={"email": "new@customer.ng", "amount": 500_000, "reference": "NEW-1", "metadata": {"tier": "pro"}},
        )
    )
    assert created["data"]["reference"] == "NEW-1"  # type: ignore[index]
    verified = _checked(paystack.get("/transaction/verify/NEW-1"))
    _checked(paystack.get(f"/transaction/{verified['data']['id']}"))  # type: ignore[index]


@pytest.mark.parametrize(("org", "metadata"), [("sahel", '{"attempt":1}'), ("nnamdi", None)])
def test_charge_authorization_success_and_failure(paystack: httpx.Client, org: str, metadata: str | None) -> None:
    seeded = ORG_BY_SLUG[org]
    body = {
        "email": seeded.email,
        "amount": 5_000_000,
        "authorization_code": seeded.authorization_code,
        "reference": f"DUN-{org}-contract",
        **({"metadata": metadata} if metadata else {}),
    }
    charged = _checked(paystack.post("/transaction/charge_authorization", json=body))
    data = charged["data"]
    assert isinstance(data, dict)
    assert data["metadata"] == (metadata or "")  # a string, as the description says
    verified = _checked(paystack.get(f"/transaction/verify/DUN-{org}-contract"))
    _checked(paystack.get(f"/transaction/{verified['data']['id']}"))  # type: ignore[index]


def test_a_2fa_card_pauses_the_charge_as_paystack_documents(paystack: httpx.Client) -> None:
    seeded = ORG_BY_SLUG["enugu"]
    body = {
        "email": seeded.email,
        "amount": 15_000_000,
        "authorization_code": seeded.authorization_code,
        "reference": "DUN-enugu-contract",
    }
    paused = _checked(paystack.post("/transaction/charge_authorization", json=body))
    assert paused["message"] == "Please, redirect your customer to the authorization url provided"
    data = paused["data"]
    assert isinstance(data, dict) and data["paused"] is True and data["reference"] == "DUN-enugu-contract"
    assert str(data["authorization_url"]).endswith(str(data["access_code"]))
    verified = _checked(paystack.get("/transaction/verify/DUN-enugu-contract"))
    assert verified["data"]["status"] == "ongoing"  # type: ignore[index]  # not charged until approved
    again = paystack.post("/transaction/charge_authorization", json=body)
    assert again.status_code == 400 and again.json()["code"] == "duplicate_reference"
    _checked(again)


def test_a_paused_answer_missing_a_field_is_caught() -> None:
    body = {"status": True, "message": "m", "data": {"reference": "R", "access_code": "a", "paused": True}}
    assert response_errors("POST", "/transaction/charge_authorization", 200, body) != []


def test_refunds_created_listed_and_fetched(paystack: httpx.Client) -> None:
    txn_id = _checked(paystack.get("/transaction/verify/PSK-REFUND-0001"))["data"]["id"]  # type: ignore[index]
    partial = _checked(
        paystack.post(
            "/refund",
            json={"transaction": str(txn_id), "amount": 1_000_000, "merchant_note": "INC-1", "customer_note": "sorry"},
        )
    )
    rest = _checked(paystack.post("/refund", json={"transaction": "PSK-REFUND-0001"}))
    listed = _checked(paystack.get("/refund", params={"transaction": txn_id}))
    assert len(listed["data"]) == 2  # type: ignore[arg-type]
    for created in (partial, rest):
        _checked(paystack.get(f"/refund/{created['data']['id']}"))  # type: ignore[index]
    _checked(paystack.get("/refund"))
    _checked(paystack.get(f"/transaction/{txn_id}"))  # now reversed


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/transaction/verify/NOPE-0000", None, 404),
        ("GET", "/transaction/999", None, 404),
        ("GET", "/transaction/abc", None, 400),
        ("GET", "/transaction?perPage=0", None, 400),
        ("GET", "/refund/999", None, 404),
        ("GET", "/refund/abc", None, 400),
        ("POST", "/refund", {"transaction": "NOPE"}, 404),
        ("POST", "/refund", {"transaction": "PSK-REFUNDED-0001"}, 400),
        ("POST", "/refund", {}, 400),
        ("POST", "/transaction/initialize", {"amount": 100}, 400),
        ("POST", "/transaction/initialize", {"email": "x@y.ng", "amount": 100, "reference": "PSK-OK-0001"}, 400),
        ("POST", "/transaction/charge_authorization", {"email": "a@b.ng", "amount": 1, "authorization_code": "X"}, 400),
    ],
)
def test_error_answers(paystack: httpx.Client, method: str, path: str, payload: object, status: int) -> None:
    response = paystack.request(method, path, json=payload)
    assert response.status_code == status
    assert _checked(response)["status"] is False


@pytest.mark.parametrize(("kind", "status"), [("rate_limit", 429), ("error", 500), ("error", 503)])
def test_fault_answers_are_error_envelopes(paystack: httpx.Client, engine: Engine, kind: str, status: int) -> None:
    script_fault(engine, "/transaction/verify/*", kind, status=None if kind == "rate_limit" else status)
    response = paystack.get("/transaction/verify/PSK-OK-0001")
    assert response.status_code == status
    assert _checked(response)["status"] is False


def test_an_unknown_key_is_the_documented_401(engine: Engine) -> None:
    with httpx.Client(transport=simulator_transport(engine), base_url=BASE_URL) as anonymous:
        response = anonymous.get("/transaction/verify/PSK-OK-0001")
    assert response.status_code == 401
    assert _checked(response) == {"status": False, "message": "Invalid key"}


# -- the divergences the issue names, one assertion each ----------------------------------------


def test_a_refund_without_notes_gets_paystacks_default_notes(paystack: httpx.Client) -> None:
    created = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001"}).json()["data"]
    by = created["refunded_by"]
    assert created["customer_note"] == "Refund for transaction PSK-REFUND-0001"
    assert created["merchant_note"] == f"Refund for transaction PSK-REFUND-0001 by {by}"
    fetched = paystack.get(f"/refund/{created['id']}").json()["data"]
    assert (fetched["customer_note"], fetched["merchant_note"]) == (created["customer_note"], created["merchant_note"])


def test_given_notes_are_kept(paystack: httpx.Client) -> None:
    created = paystack.post(
        "/refund", json={"transaction": "PSK-REFUND-0001", "customer_note": "c", "merchant_note": "m"}
    ).json()["data"]
    assert (created["customer_note"], created["merchant_note"]) == ("c", "m")


def test_plan_is_an_object_in_fetch_list_and_a_refunds_transaction(paystack: httpx.Client) -> None:
    verified = paystack.get("/transaction/verify/PSK-REFUND-0001").json()["data"]
    assert verified["plan"] is None  # verify: a nullable string in the description and Paystack's sample
    assert paystack.get(f"/transaction/{verified['id']}").json()["data"]["plan"] == {}
    assert all(item["plan"] == {} for item in paystack.get("/transaction").json()["data"])
    refund = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001"}).json()["data"]
    assert refund["transaction"]["plan"] == {}
    assert refund["transaction"]["subaccount"] == {"currency": None}
    assert "international_format_phone" in refund["transaction"]["customer"]


def test_a_refunds_customer_has_metadata_and_international_phone(paystack: httpx.Client) -> None:
    txn_id = paystack.get("/transaction/verify/PSK-REFUNDED-0001").json()["data"]["id"]
    item = paystack.get("/refund", params={"transaction": txn_id}).json()["data"][0]
    assert {"metadata", "international_format_phone"} <= set(item["customer"])
    assert paystack.get(f"/refund/{item['id']}").json()["data"]["customer"] == item["customer"]


def test_fetch_and_list_agree_on_source(paystack: httpx.Client) -> None:
    listed = {item["id"]: item for item in paystack.get("/transaction", params={"perPage": 100}).json()["data"]}
    for txn_id, item in listed.items():
        fetched = paystack.get(f"/transaction/{txn_id}").json()["data"]
        assert isinstance(item["source"], dict)
        assert fetched["source"] == item["source"], txn_id


def test_a_charges_metadata_is_echoed_as_the_string_sent(paystack: httpx.Client) -> None:
    seeded = ORG_BY_SLUG["sahel"]
    sent = json.dumps({"subscription_id": 7}, separators=(",", ":"))
    body = {"email": seeded.email, "amount": 100_000, "authorization_code": seeded.authorization_code}
    charged = paystack.post("/transaction/charge_authorization", json={**body, "reference": "M-1", "metadata": sent})
    assert charged.json()["data"]["metadata"] == sent
