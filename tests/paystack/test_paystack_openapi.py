"""The cassettes and the client's requests, held against Paystack's OpenAPI description.

The oracle and its documented allowances live in tests/openapi_contract.py (its docstring lists the
places where the description contradicts itself and how each is handled).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from openapi_contract import (
    ALLOWANCES,
    DESCRIPTION,
    SHARED_DESCRIPTION,
    operation_for,
    request_errors,
    response_errors,
    response_schema,
)
from paystack_fakes import FAKE_KEY, FakePaystack, ok, refund, transaction

from proaudit_ops.paystack import PaystackClient

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "paystack"


def test_the_vendored_description_is_current() -> None:
    if not SHARED_DESCRIPTION.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert DESCRIPTION.read_bytes() == SHARED_DESCRIPTION.read_bytes(), "refresh tests/data from shared/reference"
    assert (DESCRIPTION.parent / "LICENSE").read_bytes() == (SHARED_DESCRIPTION.parent / "LICENSE").read_bytes()


def test_every_allowance_still_names_a_node_of_the_description() -> None:
    """A description update that moves a node fails here instead of silently dropping an allowance."""
    where = {
        "Error": ("GET", "/refund/1", 404),
        "transaction_list": ("GET", "/transaction", 200),
        "transaction_verify": ("GET", "/transaction/verify/x", 200),
        "transaction_fetch": ("GET", "/transaction/1", 200),
        "refund_list": ("GET", "/refund", 200),
        "refund_fetch": ("GET", "/refund/1", 200),
        "transaction_chargeAuthorization": ("POST", "/transaction/charge_authorization", 200),
    }
    assert {allowance.operation for allowance in ALLOWANCES} == set(where)
    assert all(allowance.why for allowance in ALLOWANCES)
    for method, path, status in where.values():
        assert response_schema(method, path, status)["type"] == "object"


def test_the_oracle_is_not_blind() -> None:
    """The allowances are narrow: what the description forbids is still caught."""
    good = {"status": True, "message": "Verification successful", "data": _full_transaction()}
    assert response_errors("GET", "/transaction/verify/re4lyvq3s3", 200, good) == []
    missing = {**good, "data": {k: v for k, v in _full_transaction().items() if k != "reference"}}
    assert response_errors("GET", "/transaction/verify/re4lyvq3s3", 200, missing)
    assert response_errors("GET", "/transaction/verify/x", 200, {**good, "data": {**good["data"], "amount": "1"}})
    error = {"status": False, "message": "Invalid amount", "type": "validation_error", "code": "invalid_params"}
    assert response_errors("POST", "/refund", 400, error) == []  # Paystack's codes are not Error.code's enum
    assert response_errors("POST", "/refund", 400, {**error, "type": "oops"})  # ... but type's enum holds
    cursor = {"next": "abc", "previous": None, "perPage": 2}
    assert response_errors("GET", "/transaction", 200, {**good, "data": [], "meta": cursor}) == []
    assert response_errors("GET", "/transaction", 200, {**good, "data": [], "meta": {"next": "abc"}})
    assert request_errors("POST", "/refund", {"transaction": 77})
    assert request_errors("POST", "/transaction/charge_authorization", _charge_body(metadata={"a": 1}))


def _full_transaction() -> dict[str, Any]:
    data = transaction()
    data.update(
        ip_address="197.210.54.33",
        fees_split=None,
        order_id=None,
        pos_transaction_data=None,
        source=None,
        fees_breakdown=None,
        connect=None,
        transaction_date="2024-08-22T09:14:24.000Z",
        plan_object={},
        subaccount={},
        log={
            "start_time": 1724318098,
            "time_spent": 4,
            "attempts": 1,
            "errors": 0,
            "success": True,
            "mobile": False,
            "input": [],
            "history": [],
        },
    )
    data["customer"].update(phone=None, metadata=None, international_format_phone=None)
    return data


def _charge_body(**overrides: Any) -> dict[str, Any]:
    return {"email": "a@b.ng", "amount": 100, "authorization_code": "AUTH_x", **overrides}


# -- cassettes -----------------------------------------------------------------------------------


def _interactions() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CASSETTES.glob("*.yaml")):
        for index, interaction in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]):
            found.append((f"{path.stem}[{index}]", interaction))
    return found


INTERACTIONS = _interactions()


@pytest.mark.parametrize(("name", "interaction"), INTERACTIONS, ids=[name for name, _ in INTERACTIONS])
def test_cassette_answers_follow_the_description(name: str, interaction: dict[str, Any]) -> None:
    request, response = interaction["request"], interaction["response"]
    path = httpx.URL(request["uri"]).path
    body = json.loads(response["body"]["string"])
    assert response_errors(request["method"], path, response["status"]["code"], body) == []


@pytest.mark.parametrize(("name", "interaction"), INTERACTIONS, ids=[name for name, _ in INTERACTIONS])
def test_cassette_requests_follow_the_description(name: str, interaction: dict[str, Any]) -> None:
    request = interaction["request"]
    path = httpx.URL(request["uri"]).path
    operation_for(request["method"], path)  # a documented operation
    if request["method"] == "POST":
        assert request_errors("POST", path, json.loads(request["body"])) == []


# -- what the client sends -----------------------------------------------------------------------


def _sent(call: Any, answer: httpx.Response) -> httpx.Request:
    fake = FakePaystack(answer)
    with PaystackClient(FAKE_KEY, transport=httpx.MockTransport(fake), max_retries=0) as client:
        call(client)
    return fake.request


def _check(request: httpx.Request) -> dict[str, Any]:
    body = json.loads(request.content)
    assert request_errors(request.method, request.url.path, body) == []
    assert isinstance(body, dict)
    return body


def test_a_refund_by_id_sends_the_transaction_as_a_string() -> None:
    answer = ok({**refund(), "transaction": {"id": 77, "domain": "test"}})
    body = _check(_sent(lambda c: c.create_refund(transaction=77), answer))
    assert body == {"transaction": "77"}


def test_a_refund_with_every_option_follows_refund_create() -> None:
    def call(client: PaystackClient) -> None:
        client.create_refund(transaction="T1", amount=4000, currency="NGN", merchant_note="m", customer_note="c")

    _check(_sent(call, ok(refund())))


def test_charge_authorization_sends_metadata_as_stringified_json() -> None:
    metadata = {"subscription_id": 7, "period": "2024-09", "attempt": 1}

    def call(client: PaystackClient) -> None:
        client.charge_authorization(
            email="a@b.ng",
            amount=100,
            authorization_code="AUTH_x",
            reference="dun-1",
            currency="NGN",
            metadata=metadata,
        )

    body = _check(_sent(call, ok(transaction(reference="dun-1"))))
    assert isinstance(body["metadata"], str)
    assert json.loads(body["metadata"]) == metadata


def test_initialize_follows_transaction_initialize() -> None:
    def call(client: PaystackClient) -> None:
        client.initialize_transaction(
            email="a@b.ng", amount=100, reference="r-1", currency="NGN", callback_url="https://x", metadata={"a": 1}
        )

    answer = ok({"authorization_url": "https://checkout.paystack.com/x", "access_code": "x", "reference": "r-1"})
    body = _check(_sent(call, answer))
    assert body["metadata"] == {"a": 1}  # an object here: TransactionInitialize says so (inconsistency 6)
