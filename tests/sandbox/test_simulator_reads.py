"""The simulator's read endpoints: real Paystack shapes, auth, offset and cursor pagination."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import httpx
import pytest
from sandbox_helpers import BASE_URL, paystack_client
from sqlalchemy import Engine

VERIFY_FIELDS = {
    "id", "domain", "status", "reference", "receipt_number", "amount", "message",
    "gateway_response", "paid_at", "created_at", "channel", "currency", "ip_address", "metadata",
    "log", "fees", "fees_split", "authorization", "customer", "plan", "split", "order_id",
    "paidAt", "createdAt", "requested_amount", "pos_transaction_data", "source", "fees_breakdown",
    "connect", "transaction_date", "plan_object", "subaccount",
}  # fmt: skip


def test_verify_returns_the_paystack_envelope_and_fields(paystack: httpx.Client) -> None:
    response = paystack.get("/transaction/verify/PSK-OK-0001")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] is True
    assert body["message"] == "Verification successful"
    data = body["data"]
    assert set(data) == VERIFY_FIELDS
    assert data["reference"] == "PSK-OK-0001"
    assert data["status"] == "success"
    assert data["domain"] == "test"
    assert isinstance(data["id"], int)
    assert data["amount"] == 15_000_000
    assert data["paid_at"].endswith("Z")
    assert data["paid_at"] == data["paidAt"]
    assert data["source"] is None  # verify: null (Paystack's sample); fetch and list carry the object
    assert data["authorization"]["reusable"] is True
    assert data["authorization"]["card_type"].endswith(" ")  # Paystack pads it
    assert data["customer"]["customer_code"].startswith("CUS_")
    assert data["log"]["success"] is True


def test_verify_unknown_reference_is_404_status_false(paystack: httpx.Client) -> None:
    response = paystack.get("/transaction/verify/NOPE-0000")
    assert response.status_code == 404
    assert response.json() == {"status": False, "message": "Transaction reference not found"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer pk_test_abc"},
        {"Authorization": "sk_test_abc"},
        {"Authorization": "Bearer x"},
    ],
)
def test_a_missing_or_wrong_key_is_401_invalid_key(engine: Engine, headers: dict[str, str]) -> None:
    from proaudit_ops.sandbox.transport import simulator_transport

    with httpx.Client(transport=simulator_transport(engine), base_url=BASE_URL) as client:
        response = client.get("/transaction/verify/PSK-OK-0001", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"status": False, "message": "Invalid key"}


def test_a_live_key_sees_the_live_domain(engine: Engine) -> None:
    with paystack_client(engine) as client:
        client.headers["Authorization"] = "Bearer sk_live_whatever123"
        data = client.get("/transaction/verify/PSK-OK-0001").json()["data"]
    assert data["domain"] == "live"


def test_fetch_by_numeric_id(paystack: httpx.Client) -> None:
    verified = paystack.get("/transaction/verify/PSK-REFUND-0001").json()["data"]
    response = paystack.get(f"/transaction/{verified['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Transaction retrieved"
    assert body["data"]["reference"] == "PSK-REFUND-0001"
    assert "helpdesk_link" in body["data"]


def test_fetch_non_numeric_id_is_400(paystack: httpx.Client) -> None:
    response = paystack.get("/transaction/PSK-OK-0001")
    assert response.status_code == 400
    assert response.json()["message"] == "Transaction ID should be numeric."
    assert response.json()["status"] is False


def test_fetch_unknown_id_is_404(paystack: httpx.Client) -> None:
    assert paystack.get("/transaction/1").status_code == 404


def test_timeline_returns_the_log(paystack: httpx.Client) -> None:
    body = paystack.get("/transaction/timeline/PSK-FAILED-0001").json()
    assert body["data"]["errors"] == 1
    assert body["data"]["history"][-1]["type"] == "error"


def _all_offset(paystack: httpx.Client, **params: object) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    page = 1
    while True:
        body = paystack.get("/transaction", params={"perPage": 5, "page": page, **params}).json()
        items.extend(body["data"])
        if page >= body["meta"]["pageCount"]:
            return items
        page += 1


def test_list_offset_meta_and_newest_first(paystack: httpx.Client) -> None:
    body = paystack.get("/transaction", params={"perPage": 5, "page": 2}).json()
    assert body["status"] is True
    assert body["message"] == "Transactions retrieved"
    meta = body["meta"]
    total = meta["total"]
    assert meta == {
        "total": total,
        "total_volume": meta["total_volume"],
        "skipped": 5,
        "perPage": 5,
        "page": 2,
        "pageCount": -(-total // 5),
    }
    assert len(body["data"]) == 5
    everything = _all_offset(paystack)
    assert len(everything) == total
    created = [item["created_at"] for item in everything]
    assert created == sorted(created, reverse=True)
    assert everything[0]["reference"] == "PSK-PENDING-0001"
    assert everything[0]["source"]["type"] == "api"  # list items carry `source`


def test_list_filters_status_and_dates(paystack: httpx.Client, now: datetime) -> None:
    failed = _all_offset(paystack, status="failed")
    assert failed
    assert all(item["status"] == "failed" for item in failed)
    since = (now - timedelta(hours=25)).isoformat().replace("+00:00", "Z")
    recent = {item["reference"] for item in _all_offset(paystack, **{"from": since})}
    assert {"PSK-STUCK-0001", "PSK-STUCK-0003", "PSK-PENDING-0001"} <= recent
    assert "PSK-OK-0001" not in recent
    until = (now - timedelta(days=30)).date().isoformat()
    old = {item["reference"] for item in _all_offset(paystack, to=until)}
    assert "PSK-HIST-0011" in old
    assert "PSK-OK-0001" not in old


def test_list_rejects_a_bad_page_size(paystack: httpx.Client) -> None:
    response = paystack.get("/transaction", params={"perPage": "zero"})
    assert response.status_code == 400
    assert response.json()["status"] is False


def test_cursor_pagination_walks_everything_once_and_back(paystack: httpx.Client) -> None:
    expected = [item["reference"] for item in _all_offset(paystack)]
    first = paystack.get("/transaction", params={"use_cursor": "true", "perPage": 4}).json()
    assert first["meta"]["previous"] == "null"  # Paystack sends the string
    assert first["meta"]["perPage"] == 4
    pages = [first]
    while pages[-1]["meta"]["next"]:
        cursor = pages[-1]["meta"]["next"]
        base64.b64decode(cursor, validate=True)  # opaque, but base64 like Paystack's
        pages.append(paystack.get("/transaction", params={"perPage": 4, "next": cursor}).json())
    walked = [item["reference"] for page in pages for item in page["data"]]
    assert walked == expected
    assert pages[-1]["meta"]["next"] is None
    # previous from page 3 gives page 2 again
    back = paystack.get("/transaction", params={"perPage": 4, "previous": pages[2]["meta"]["previous"]}).json()
    assert [i["reference"] for i in back["data"]] == [i["reference"] for i in pages[1]["data"]]
    back_to_first = paystack.get("/transaction", params={"perPage": 4, "previous": pages[1]["meta"]["previous"]}).json()
    assert back_to_first["meta"]["previous"] == "null"
    assert [i["reference"] for i in back_to_first["data"]] == expected[:4]


def test_a_garbage_cursor_is_400(paystack: httpx.Client) -> None:
    response = paystack.get("/transaction", params={"next": "not*base64"})
    assert response.status_code == 400
