"""Test doubles for the Paystack client: a scripted `httpx.MockTransport` handler and payloads.

No monkeypatching: the client takes the transport as an argument.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

# The canary: it must never show up in an exception, a repr, a log line or a cassette.
FAKE_KEY = "sk_test_LEAKCANARY0123456789abcdefXYZ"

Answer = httpx.Response | BaseException | type[BaseException] | Callable[[httpx.Request], Any]


class FakePaystack:
    """Answers requests from a script, in order, and records every request it saw."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request: {request.method} {request.url}")
        answer: Any = self.answers.pop(0)
        if isinstance(answer, type) and issubclass(answer, httpx.TransportError):
            raise answer("scripted transport failure", request=request)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        result = answer(request)
        assert isinstance(result, httpx.Response)
        return result

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, saw {len(self.requests)}"
        return self.requests[0]

    def params(self, index: int = 0) -> dict[str, str]:
        return dict(self.requests[index].url.params)

    def json_body(self, index: int = 0) -> Any:
        return json.loads(self.requests[index].content)


def ok(data: Any, *, meta: dict[str, Any] | None = None, message: str = "OK") -> httpx.Response:
    body: dict[str, Any] = {"status": True, "message": message, "data": data}
    if meta is not None:
        body["meta"] = meta
    return httpx.Response(200, json=body)


def fail(
    status_code: int,
    message: str,
    *,
    next_step: str | None = None,
    code: str | None = None,
    type_: str | None = None,
    status: Any = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if next_step is not None:
        body["meta"] = {"nextStep": next_step}
    if code is not None:
        body["code"] = code
    if type_ is not None:
        body["type"] = type_
    return httpx.Response(status_code, json=body, headers=headers)


def transaction(**overrides: Any) -> dict[str, Any]:
    """A transaction as verify/list return it (Paystack's own sample, trimmed)."""
    data: dict[str, Any] = {
        "id": 4099260516,
        "domain": "test",
        "status": "success",
        "reference": "re4lyvq3s3",
        "receipt_number": None,
        "amount": 40333,
        "requested_amount": 30050,
        "currency": "NGN",
        "message": None,
        "gateway_response": "Successful",
        "channel": "card",
        "paid_at": "2024-08-22T09:15:02.000Z",
        "paidAt": "2024-08-22T09:15:02.000Z",
        "created_at": "2024-08-22T09:14:24.000Z",
        "createdAt": "2024-08-22T09:14:24.000Z",
        "metadata": "",
        "fees": 10283,
        "log": {"start_time": 1724318098, "attempts": 1, "history": []},
        "authorization": {
            "authorization_code": "AUTH_uh8bcl3zbn",
            "bin": "408408",
            "last4": "4081",
            "exp_month": "12",
            "exp_year": "2030",
            "channel": "card",
            "card_type": "visa ",
            "bank": "TEST BANK",
            "country_code": "NG",
            "brand": "visa",
            "reusable": True,
            "signature": "SIG_yEXu7dLBeqG0kU7g95Ke",
            "account_name": None,
        },
        "customer": {
            "id": 181873746,
            "first_name": None,
            "last_name": None,
            "email": "demo@test.com",
            "customer_code": "CUS_1rkzaqsv4rrhqo6",
            "risk_action": "default",
        },
        "plan": None,
        "split": {},
    }
    data.update(overrides)
    return data


def refund(**overrides: Any) -> dict[str, Any]:
    """A refund as GET /refund and GET /refund/:id return it."""
    data: dict[str, Any] = {
        "id": 3018284,
        "integration": 412829,
        "domain": "test",
        "transaction": 1004723697,
        "transaction_reference": "T685312322670591",
        "transaction_amount": 10000,
        "dispute": None,
        "currency": "NGN",
        "amount": 10000,
        "status": "processed",
        "refunded_at": "2021-12-16T09:21:17.000Z",
        "refunded_by": "ops@example.com",
        "customer_note": "Refund for duplicate charge",
        "merchant_note": "INC-42",
        "deducted_amount": 10000,
        "fully_deducted": 1,
        "createdAt": "2021-12-15T09:21:17.000Z",
    }
    data.update(overrides)
    return data
