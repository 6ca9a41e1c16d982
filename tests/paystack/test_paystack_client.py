"""Each endpoint: method, path, query parameters, JSON body, and the parsed result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from paystack_fakes import FAKE_KEY, FakePaystack, ok, refund, transaction

import proaudit_ops
from proaudit_ops.errors import ConfigError, UsageError
from proaudit_ops.paystack import (
    InitializedTransaction,
    PaystackClient,
    Refund,
    Transaction,
)

MakeClient = Callable[..., PaystackClient]


def test_verify_transaction_sends_key_and_user_agent_and_parses(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(transaction(), message="Verification successful"))
    tx = make_client(fake).verify_transaction("re4lyvq3s3")

    request = fake.request
    assert request.method == "GET"
    assert str(request.url) == "https://api.paystack.co/transaction/verify/re4lyvq3s3"
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert request.headers["user-agent"] == f"proaudit/{proaudit_ops.__version__}"
    assert isinstance(tx, Transaction)
    assert (tx.id, tx.status, tx.reference) == (4099260516, "success", "re4lyvq3s3")
    assert (tx.amount, tx.requested_amount, tx.currency, tx.fees) == (40333, 30050, "NGN", 10283)
    assert tx.paid_at == datetime(2024, 8, 22, 9, 15, 2, tzinfo=UTC)
    assert tx.created_at == datetime(2024, 8, 22, 9, 14, 24, tzinfo=UTC)
    assert tx.customer is not None
    assert tx.customer.email == "demo@test.com"
    assert tx.authorization is not None
    assert tx.authorization.card_type == "visa"
    assert tx.authorization.reusable is True
    assert tx.metadata == ""


def test_verify_transaction_escapes_the_reference_in_the_path(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(transaction(reference="a/b?c")))
    make_client(fake).verify_transaction("a/b?c")
    assert fake.request.url.raw_path == b"/transaction/verify/a%2Fb%3Fc"


@pytest.mark.parametrize("reference", ["PSK-X\n", " PSK-X", "PSK-X ", ".", "..", "..."])
def test_verify_transaction_refuses_a_segment_that_would_be_altered(make_client: MakeClient, reference: str) -> None:
    """Stripping "PSK-X\n" used to look PSK-X up; `..` was resolved away to GET /transaction."""
    fake = FakePaystack()
    with pytest.raises(UsageError):
        make_client(fake).verify_transaction(reference)
    assert fake.requests == []


@pytest.mark.parametrize("reference", ["", "   "])
def test_verify_transaction_refuses_an_empty_reference(make_client: MakeClient, reference: str) -> None:
    fake = FakePaystack()
    with pytest.raises(UsageError):
        make_client(fake).verify_transaction(reference)
    assert fake.requests == []


def test_fetch_transaction(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(transaction(helpdesk_link="https://help.example", metadata={"k": 1})))
    tx = make_client(fake).fetch_transaction(4099260516)
    assert fake.request.method == "GET"
    assert fake.request.url.path == "/transaction/4099260516"
    assert tx.metadata == {"k": 1}


@pytest.mark.parametrize("bad", [0, -1, True, "12"])
def test_fetch_transaction_refuses_a_non_positive_or_non_int_id(make_client: MakeClient, bad: object) -> None:
    fake = FakePaystack()
    with pytest.raises(UsageError):
        make_client(fake).fetch_transaction(bad)  # type: ignore[arg-type]
    assert fake.requests == []


def test_list_transactions_page_offset_params(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(
            [transaction()],
            meta={"total": 7316, "skipped": 0, "perPage": "50", "page": 2, "pageCount": 147},
        )
    )
    lagos = timezone(timedelta(hours=1))
    page = make_client(fake).list_transactions_page(
        status="success",
        from_=datetime(2024, 8, 22, 1, 0, 0, tzinfo=lagos),
        to=datetime(2024, 8, 23),  # naive: taken as UTC
        per_page=50,
        page=2,
    )
    assert fake.request.url.path == "/transaction"
    assert fake.params() == {
        "perPage": "50",
        "page": "2",
        "status": "success",
        "from": "2024-08-22T00:00:00Z",
        "to": "2024-08-23T00:00:00Z",
    }
    assert [tx.reference for tx in page.items] == ["re4lyvq3s3"]
    assert (page.page, page.page_count, page.total, page.per_page) == (2, 147, 7316, 50)
    assert page.next_cursor is None


def test_list_transactions_page_cursor_params(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok([transaction()], meta={"next": "dW5kZWZpbmVkOjQwOTcz", "previous": "null", "perPage": 1}),
        ok([transaction(id=2, reference="ref2")], meta={"next": None, "perPage": 1}),
    )
    client = make_client(fake)
    first = client.list_transactions_page(per_page=1, use_cursor=True)
    second = client.list_transactions_page(per_page=1, cursor=first.next_cursor)
    assert fake.params(0) == {"perPage": "1", "use_cursor": "true"}
    assert fake.params(1) == {"perPage": "1", "use_cursor": "true", "next": "dW5kZWZpbmVkOjQwOTcz"}
    assert first.next_cursor == "dW5kZWZpbmVkOjQwOTcz"
    assert second.next_cursor is None
    assert second.items[0].reference == "ref2"


def test_list_refunds_params_and_normalised_transaction(make_client: MakeClient) -> None:
    fake = FakePaystack(ok([refund()], meta={"total": 1, "perPage": "100", "page": 1, "pageCount": 1}))
    refunds = make_client(fake).list_refunds(transaction=1004723697)
    assert fake.request.url.path == "/refund"
    assert fake.params() == {"perPage": "100", "page": "1", "transaction": "1004723697"}
    assert len(refunds) == 1
    (only,) = refunds
    assert (only.id, only.status, only.amount) == (3018284, "processed", 10000)
    assert only.transaction_id == 1004723697
    assert only.transaction_reference == "T685312322670591"
    assert only.fully_deducted is True
    assert only.created_at == datetime(2021, 12, 15, 9, 21, 17, tzinfo=UTC)


def test_fetch_refund(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(refund(status="needs-attention", fully_deducted=0)))
    result = make_client(fake).fetch_refund(3018284)
    assert fake.request.method == "GET"
    assert fake.request.url.path == "/refund/3018284"
    assert isinstance(result, Refund)
    assert (result.status, result.fully_deducted) == ("needs-attention", False)


def test_create_refund_posts_only_given_fields_and_parses_object_transaction(
    make_client: MakeClient,
) -> None:
    answer = {
        "transaction": {"id": 1004723697, "reference": "T685312322670591", "amount": 10000},
        "integration": 412829,
        "id": 3018284,
        "status": "pending",
        "amount": 5000,
        "currency": "NGN",
        "deducted_amount": 0,
        "fully_deducted": False,
        "domain": "test",
        "merchant_note": "INC-42",
        "refunded_by": "ops@example.com",
        "expected_at": "2021-12-16T09:21:17.016Z",
        "createdAt": "2021-12-09T09:21:17.000Z",
    }
    fake = FakePaystack(ok(answer, message="Refund has been queued for processing"))
    result = make_client(fake).create_refund(transaction="T685312322670591", amount=5000, merchant_note="INC-42")
    assert fake.request.method == "POST"
    assert fake.request.url.path == "/refund"
    assert fake.request.headers["content-type"] == "application/json"
    assert fake.json_body() == {
        "transaction": "T685312322670591",
        "amount": 5000,
        "merchant_note": "INC-42",
    }
    assert (result.id, result.status, result.amount) == (3018284, "pending", 5000)
    assert result.transaction_id == 1004723697
    assert result.transaction_reference == "T685312322670591"
    assert result.transaction_amount == 10000
    assert (result.deducted_amount, result.fully_deducted) == (0, False)
    assert result.expected_at == datetime(2021, 12, 16, 9, 21, 17, 16000, tzinfo=UTC)


def test_create_full_refund_by_id_sends_no_amount(make_client: MakeClient) -> None:
    fake = FakePaystack(ok({"id": 1, "status": "pending", "amount": 10000, "transaction": {"id": 77}}))
    result = make_client(fake).create_refund(transaction=77, currency="NGN", customer_note="sorry")
    # RefundCreate's `transaction` is a string in Paystack's description, an id included
    assert fake.json_body() == {"transaction": "77", "currency": "NGN", "customer_note": "sorry"}
    assert result.transaction_id == 77
    assert result.transaction_reference is None


@pytest.mark.parametrize("amount", [0, -100, True, 10.5, "5000"])
def test_create_refund_refuses_a_bad_amount_before_sending(make_client: MakeClient, amount: object) -> None:
    fake = FakePaystack()
    with pytest.raises(UsageError):
        make_client(fake).create_refund(transaction="T1", amount=amount)  # type: ignore[arg-type]
    assert fake.requests == []


def test_initialize_transaction(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(
            {
                "authorization_url": "https://checkout.paystack.com/3ni8kdavz62431k",
                "access_code": "3ni8kdavz62431k",
                "reference": "sub-42-2024-08-a1",
            },
            message="Authorization URL created",
        )
    )
    result = make_client(fake).initialize_transaction(
        email="ops@example.com",
        amount=15000000,
        reference="sub-42-2024-08-a1",
        metadata={"organization_id": 42, "cancel_action": "https://app.example/cancel"},
    )
    assert fake.request.method == "POST"
    assert fake.request.url.path == "/transaction/initialize"
    assert fake.json_body() == {
        "email": "ops@example.com",
        "amount": 15000000,
        "reference": "sub-42-2024-08-a1",
        "metadata": {"organization_id": 42, "cancel_action": "https://app.example/cancel"},
    }
    assert result == InitializedTransaction(
        authorization_url="https://checkout.paystack.com/3ni8kdavz62431k",
        access_code="3ni8kdavz62431k",
        reference="sub-42-2024-08-a1",
    )


def test_charge_authorization_returns_the_transaction_even_when_it_failed(
    make_client: MakeClient,
) -> None:
    charged = transaction(
        status="failed",
        reference="dun-42-202408-1",
        amount="15000000",
        gateway_response="Insufficient Funds",
        transaction_date="2024-08-22T09:15:02.000Z",
    )
    for key in ("paid_at", "paidAt", "created_at", "createdAt"):
        charged.pop(key)
    fake = FakePaystack(ok(charged, message="Charge attempted"))
    tx = make_client(fake).charge_authorization(
        email="demo@test.com",
        amount=15000000,
        authorization_code="AUTH_uh8bcl3zbn",
        reference="dun-42-202408-1",
        currency="NGN",
    )
    assert fake.request.url.path == "/transaction/charge_authorization"
    assert fake.json_body() == {
        "email": "demo@test.com",
        "amount": 15000000,
        "authorization_code": "AUTH_uh8bcl3zbn",
        "reference": "dun-42-202408-1",
        "currency": "NGN",
    }
    assert (tx.status, tx.amount, tx.gateway_response) == ("failed", 15000000, "Insufficient Funds")
    assert tx.paid_at is None
    assert tx.transaction_date == datetime(2024, 8, 22, 9, 15, 2, tzinfo=UTC)
    assert tx.paused is False


def test_charge_authorization_paused_for_2fa(make_client: MakeClient) -> None:
    fake = FakePaystack(
        ok(
            {
                "authorization_url": "https://checkout.paystack.com/resume/0xpd3flg6kaf8qm",
                "reference": "dun-42-202408-1",
                "access_code": "0xpd3flg6kaf8qm",
                "paused": True,
            },
            message="Please, redirect your customer to the authorization url provided",
        )
    )
    tx = make_client(fake).charge_authorization(
        email="demo@test.com",
        amount=5000,
        authorization_code="AUTH_x",
        reference="dun-42-202408-1",
        currency="NGN",
    )
    assert tx.paused is True
    assert tx.status == "paused"
    assert (tx.reference, tx.amount, tx.currency) == ("dun-42-202408-1", 5000, "NGN")
    assert tx.authorization_url == "https://checkout.paystack.com/resume/0xpd3flg6kaf8qm"


def test_client_is_a_context_manager() -> None:
    fake = FakePaystack(ok(transaction()))
    with PaystackClient(FAKE_KEY, transport=httpx.MockTransport(fake)) as client:
        client.verify_transaction("re4lyvq3s3")
    with pytest.raises(RuntimeError):
        client.verify_transaction("re4lyvq3s3")


def test_base_url_trailing_slash_and_mode() -> None:
    fake = FakePaystack(ok(transaction(domain="live")))
    client = PaystackClient("sk_live_abc", base_url="http://127.0.0.1:8765/", transport=httpx.MockTransport(fake))
    client.verify_transaction("x")
    assert str(fake.request.url) == "http://127.0.0.1:8765/transaction/verify/x"
    assert client.mode == "live"
    assert PaystackClient(FAKE_KEY).mode == "test"
    assert PaystackClient("sandbox-key").mode is None


def test_repr_masks_the_key() -> None:
    client = PaystackClient(FAKE_KEY)
    text = repr(client)
    assert FAKE_KEY not in text
    assert "LEAKCANARY" not in text
    assert "sk_test_****" in text


@pytest.mark.parametrize("key", ["", f" {FAKE_KEY}", f"{FAKE_KEY}\n", f"{FAKE_KEY} x", f"{FAKE_KEY}é"])
def test_a_key_that_cannot_be_sent_is_a_config_error_without_the_key(key: str) -> None:
    with pytest.raises(ConfigError) as info:
        PaystackClient(key)
    assert "LEAKCANARY" not in str(info.value)
    assert "LEAKCANARY" not in (info.value.hint or "")


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_a_non_positive_timeout_is_a_config_error(timeout: float) -> None:
    with pytest.raises(ConfigError):
        PaystackClient(FAKE_KEY, timeout_s=timeout)
