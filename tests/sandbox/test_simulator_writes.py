"""The simulator's write endpoints: initialize, charge_authorization, refunds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sandbox_helpers import paystack_client
from sqlalchemy import Engine, func, select

from proaudit_ops.sandbox.dataset import ORG_BY_SLUG
from proaudit_ops.sandbox.sim_refunds import set_refund_status
from proaudit_ops.sandbox.state import sim_refunds, sim_transactions


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def test_initialize_creates_an_abandoned_transaction(paystack: httpx.Client) -> None:
    response = paystack.post(
        "/transaction/initialize",
        json={"email": "new@customer.ng", "amount": "500000", "reference": "NEW-1"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Authorization URL created"
    assert body["data"]["reference"] == "NEW-1"
    assert body["data"]["authorization_url"].endswith(body["data"]["access_code"])
    verified = paystack.get("/transaction/verify/NEW-1").json()["data"]
    assert verified["status"] == "abandoned"
    assert verified["amount"] == 500_000
    assert verified["paid_at"] is None
    assert verified["customer"]["email"] == "new@customer.ng"


def test_initialize_accepts_form_data_and_generates_a_reference(paystack: httpx.Client) -> None:
    response = paystack.post("/transaction/initialize", data={"email": "a@b.ng", "amount": "10000"})
    assert response.status_code == 200
    reference = response.json()["data"]["reference"]
    assert paystack.get(f"/transaction/verify/{reference}").status_code == 200


def test_initialize_duplicate_reference_is_rejected(paystack: httpx.Client, engine: Engine) -> None:
    before = _count(engine, sim_transactions)
    response = paystack.post(
        "/transaction/initialize",
        json={"email": "x@y.ng", "amount": 100, "reference": "PSK-OK-0001"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "duplicate_reference"
    assert response.json()["message"] == "Duplicate Transaction Reference"
    assert _count(engine, sim_transactions) == before


def test_initialize_needs_an_email_and_an_amount(paystack: httpx.Client) -> None:
    missing_email = paystack.post("/transaction/initialize", json={"amount": 100})
    assert missing_email.status_code == 400
    assert missing_email.json()["message"] == "Email Address is required"
    assert missing_email.json()["code"] == "missing_params"
    bad_amount = paystack.post("/transaction/initialize", json={"email": "a@b.ng", "amount": "1.5"})
    assert bad_amount.status_code == 400


def _charge(paystack: httpx.Client, org: str, reference: str, amount: int = 15_000_000) -> httpx.Response:
    seeded = ORG_BY_SLUG[org]
    return paystack.post(
        "/transaction/charge_authorization",
        json={
            "email": seeded.email,
            "amount": amount,
            "authorization_code": seeded.authorization_code,
            "reference": reference,
        },
    )


def test_charge_authorization_succeeds_on_a_good_card(paystack: httpx.Client) -> None:
    response = _charge(paystack, "sahel", "DUN-sahel-2026-01-a3")
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Charge attempted"
    assert body["data"]["status"] == "success"
    assert body["data"]["gateway_response"] == "Approved"
    assert body["data"]["authorization"]["authorization_code"] == ORG_BY_SLUG["sahel"].authorization_code
    verified = paystack.get("/transaction/verify/DUN-sahel-2026-01-a3").json()["data"]
    assert verified["status"] == "success"
    assert verified["paid_at"] is not None


def test_charge_authorization_fails_on_the_insufficient_funds_card(paystack: httpx.Client) -> None:
    response = _charge(paystack, "nnamdi", "DUN-nnamdi-2026-01-a2", amount=5_000_000)
    assert response.status_code == 200  # Paystack answers 200 even when the charge fails
    assert response.json()["data"]["status"] == "failed"
    assert response.json()["data"]["gateway_response"] == "Insufficient Funds"


def test_charge_authorization_duplicate_reference_charges_once(paystack: httpx.Client, engine: Engine) -> None:
    assert _charge(paystack, "sahel", "DUN-sahel-dup").status_code == 200
    before = _count(engine, sim_transactions)
    again = _charge(paystack, "sahel", "DUN-sahel-dup")
    assert again.status_code == 400
    assert again.json()["code"] == "duplicate_reference"
    assert again.json()["message"] == "Duplicate Transaction Reference"
    assert _count(engine, sim_transactions) == before


def test_charge_authorization_checks_the_card_and_the_email(paystack: httpx.Client) -> None:
    wrong_email = paystack.post(
        "/transaction/charge_authorization",
        json={
            "email": "someone@else.ng",
            "amount": 100,
            "authorization_code": ORG_BY_SLUG["sahel"].authorization_code,
        },
    )
    assert wrong_email.status_code == 400
    assert wrong_email.json()["message"].startswith("Email does not match")
    unknown = paystack.post(
        "/transaction/charge_authorization",
        json={"email": "a@b.ng", "amount": 100, "authorization_code": "AUTH_nope"},
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "Invalid Authorization Code"


# -- refunds ------------------------------------------------------------------------------------


def _txn_id(paystack: httpx.Client, reference: str) -> int:
    return int(paystack.get(f"/transaction/verify/{reference}").json()["data"]["id"])


def test_refund_shape_and_default_full_amount(paystack: httpx.Client) -> None:
    response = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001"})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Refund has been queued for processing"
    data = body["data"]
    assert data["status"] == "pending"
    assert data["amount"] == 15_000_000
    assert data["transaction"]["reference"] == "PSK-REFUND-0001"
    assert isinstance(data["id"], int)
    assert data["fully_deducted"] is False
    assert paystack.get("/transaction/verify/PSK-REFUND-0001").json()["data"]["status"] == "reversed"


def test_partial_refunds_until_exhausted_then_refused(paystack: httpx.Client) -> None:
    txn_id = _txn_id(paystack, "PSK-REFUND-0001")
    first = paystack.post("/refund", json={"transaction": str(txn_id), "amount": 5_000_000})
    assert first.status_code == 200
    assert paystack.get("/transaction/verify/PSK-REFUND-0001").json()["data"]["status"] == "success"
    over = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": 10_000_001})
    assert over.status_code == 400
    assert over.json()["message"].startswith("Refund amount")
    rest = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": "10000000"})
    assert rest.status_code == 200
    assert paystack.get("/transaction/verify/PSK-REFUND-0001").json()["data"]["status"] == "reversed"
    again = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": 1})
    assert again.status_code == 400
    assert again.json()["message"] == "Transaction has been fully reversed"


def test_refund_rules(paystack: httpx.Client) -> None:
    reversed_ = paystack.post("/refund", json={"transaction": "PSK-REFUNDED-0001"})
    assert reversed_.status_code == 400
    assert reversed_.json()["message"] == "Transaction has been fully reversed"
    failed = paystack.post("/refund", json={"transaction": "PSK-FAILED-0001"})
    assert failed.status_code == 400
    unknown = paystack.post("/refund", json={"transaction": "NOPE"})
    assert unknown.status_code == 404
    wrong_currency = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "currency": "USD"})
    assert wrong_currency.status_code == 400
    zero = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": 0})
    assert zero.status_code == 400


def test_list_and_fetch_refunds(paystack: httpx.Client) -> None:
    txn_id = _txn_id(paystack, "PSK-REFUND-0001")
    created = paystack.post("/refund", json={"transaction": txn_id, "amount": 1_000_000}).json()["data"]
    body = paystack.get("/refund", params={"transaction": txn_id}).json()
    assert body["status"] is True
    assert body["meta"]["perPage"] == "50"  # a string, as Paystack sends it
    assert body["meta"]["total"] == 1
    item = body["data"][0]
    assert item["id"] == created["id"]
    assert item["transaction"] == txn_id  # an int id on list items
    assert item["transaction_reference"] == "PSK-REFUND-0001"
    assert item["fully_deducted"] == 0
    fetched = paystack.get(f"/refund/{created['id']}").json()["data"]
    assert fetched == item
    assert paystack.get("/refund/999").status_code == 404
    assert paystack.get("/refund", params={"transaction": "PSK-REFUND-0001"}).status_code == 400


def test_the_seeded_refund_is_listed_as_processed(paystack: httpx.Client) -> None:
    txn_id = _txn_id(paystack, "PSK-REFUNDED-0001")
    items = paystack.get("/refund", params={"transaction": txn_id}).json()["data"]
    assert [(i["status"], i["amount"], i["fully_deducted"]) for i in items] == [("processed", 15_000_000, 1)]


def test_a_failed_refund_gives_the_amount_back(paystack: httpx.Client, engine: Engine) -> None:
    refund = paystack.post("/refund", json={"transaction": "PSK-REFUND-0001"}).json()["data"]
    set_refund_status(engine, refund["id"], "failed")
    assert paystack.get("/transaction/verify/PSK-REFUND-0001").json()["data"]["status"] == "success"
    assert paystack.post("/refund", json={"transaction": "PSK-REFUND-0001"}).status_code == 200
    assert _count(engine, sim_refunds) == 5


def test_concurrent_refunds_never_over_refund(engine: Engine) -> None:
    with paystack_client(engine) as client:

        def refund(_: int) -> int:
            response = client.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": 1_000_000})
            return response.status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(refund, range(20)))
        txn_id = _txn_id(client, "PSK-REFUND-0001")
        listed = client.get("/refund", params={"transaction": txn_id}).json()["data"]
    assert codes.count(200) == 15
    assert codes.count(400) == 5
    assert sum(item["amount"] for item in listed) == 15_000_000


def test_concurrent_charges_with_one_reference_charge_once(engine: Engine) -> None:
    with paystack_client(engine) as client, ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: _charge(client, "sahel", "DUN-race-1").status_code, range(8)))
    assert sorted(codes) == [200] + [400] * 7
