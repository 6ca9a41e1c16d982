"""Contract tests: one thin test per endpoint, replayed from hand-written cassettes.

The cassettes in tests/cassettes/paystack/ follow the response shapes documented in
reference/paystack-api.md (extra fields included). `record_mode="none"`: nothing touches the
network, and a request the cassette does not hold fails the test. To re-record against Paystack
test mode, run with a test key and record_mode="once" on a copy, then re-check the leak test below.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml  # type: ignore[import-untyped, unused-ignore]
from paystack_fakes import FAKE_KEY
from vcr.errors import CannotOverwriteExistingCassetteException

from proaudit_ops.paystack import PaystackClient

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "paystack"
MATCH_ON = ["method", "scheme", "host", "port", "path", "query"]

paystack_vcr = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    filter_headers=["authorization"],
    match_on=MATCH_ON,
)


@pytest.fixture
def client() -> Iterator[PaystackClient]:
    # No transport: the real httpx.HTTPTransport, which vcrpy patches while a cassette is in use.
    with PaystackClient(FAKE_KEY, max_retries=0, sleep=_no_sleep) as paystack:
        yield paystack


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"a contract test must not wait ({seconds}s)")


def _cassette(name: str, *, with_body: bool = False) -> Any:
    match_on = [*MATCH_ON, "body"] if with_body else MATCH_ON
    return paystack_vcr.use_cassette(f"{name}.yaml", match_on=match_on)


def test_vcr_intercepts_httpx_sync_client(client: PaystackClient) -> None:
    """A request the cassette does not hold is refused by vcrpy, not sent to the network."""
    with _cassette("verify_transaction") as cassette:
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.verify_transaction("not-in-the-cassette")
        assert cassette.play_count == 0


def test_verify_transaction(client: PaystackClient) -> None:
    with _cassette("verify_transaction") as cassette:
        tx = client.verify_transaction("re4lyvq3s3")
        assert cassette.all_played
    assert (tx.id, tx.status, tx.reference, tx.domain) == (
        4099260516,
        "success",
        "re4lyvq3s3",
        "test",
    )
    assert (tx.amount, tx.requested_amount, tx.currency) == (40333, 30050, "NGN")
    assert tx.paid_at == datetime(2024, 8, 22, 9, 15, 2, tzinfo=UTC)
    assert tx.gateway_response == "Successful"
    assert tx.authorization is not None
    assert (tx.authorization.authorization_code, tx.authorization.card_type) == (
        "AUTH_uh8bcl3zbn",
        "visa",
    )
    assert tx.customer is not None
    assert tx.customer.customer_code == "CUS_1rkzaqsv4rrhqo6"


def test_fetch_transaction(client: PaystackClient) -> None:
    with _cassette("fetch_transaction") as cassette:
        tx = client.fetch_transaction(4099260516)
        assert cassette.all_played
    assert (tx.status, tx.amount, tx.requested_amount) == ("abandoned", 15000000, 15000000)
    assert tx.paid_at is None
    assert tx.authorization is None  # `{}` on an abandoned transaction
    assert tx.metadata == {"organization_id": 42, "tier": "pro", "custom_fields": []}


def test_list_transactions_offset_page(client: PaystackClient) -> None:
    with _cassette("list_transactions_offset") as cassette:
        page = client.list_transactions_page(
            status="success",
            from_=datetime(2024, 8, 1, tzinfo=UTC),
            to=datetime(2024, 9, 1, tzinfo=UTC),
            per_page=2,
            page=1,
        )
        assert cassette.all_played
    assert [tx.reference for tx in page.items] == ["re4lyvq3s3", "dun-42-202408-1"]
    assert [tx.amount for tx in page.items] == [40333, 15000000]
    assert (page.page, page.page_count, page.total, page.per_page) == (1, 2, 3, 2)
    assert page.next_cursor is None


def test_list_transactions_cursor_pages(client: PaystackClient) -> None:
    with _cassette("list_transactions_cursor") as cassette:
        found = list(client.iter_transactions(per_page=2))
        assert cassette.all_played
    assert [(tx.id, tx.status) for tx in found] == [
        (4099260516, "success"),
        (4099258802, "failed"),
        (4099198845, "reversed"),
    ]
    assert found[1].paid_at is None
    assert found[2].metadata == '{"organization_id":42}'


def test_list_refunds(client: PaystackClient) -> None:
    with _cassette("list_refunds") as cassette:
        refunds = client.list_refunds(transaction=1004723697)
        assert cassette.all_played
    assert [(r.id, r.status, r.amount) for r in refunds] == [
        (3018284, "processed", 4000),
        (3018290, "pending", 6000),
    ]
    assert {r.transaction_id for r in refunds} == {1004723697}
    assert {r.transaction_reference for r in refunds} == {"T685312322670591"}
    assert [r.fully_deducted for r in refunds] == [True, False]
    assert refunds[1].deducted_amount == 0


def test_fetch_refund(client: PaystackClient) -> None:
    with _cassette("fetch_refund") as cassette:
        result = client.fetch_refund(3018290)
        assert cassette.all_played
    assert (result.id, result.status, result.amount) == (3018290, "needs-attention", 6000)
    assert (result.transaction_id, result.transaction_reference) == (1004723697, "T685312322670591")
    assert result.refunded_at is None
    assert result.created_at == datetime(2021, 12, 16, 10, 2, 41, tzinfo=UTC)


def test_create_refund(client: PaystackClient) -> None:
    with _cassette("create_refund", with_body=True) as cassette:
        result = client.create_refund(
            transaction="T685312322670591",
            amount=4000,
            merchant_note="INC-42 partial refund",
            customer_note="Refund for duplicate charge",
        )
        assert cassette.all_played
    assert (result.id, result.status, result.amount, result.currency) == (
        3018284,
        "pending",
        4000,
        "NGN",
    )
    assert (result.transaction_id, result.transaction_reference) == (1004723697, "T685312322670591")
    assert result.transaction_amount == 10000
    assert (result.deducted_amount, result.fully_deducted) == (0, False)
    assert result.refunded_by == "ops@example.com"


def test_initialize_transaction(client: PaystackClient) -> None:
    with _cassette("initialize_transaction", with_body=True) as cassette:
        result = client.initialize_transaction(
            email="billing@acme.example",
            amount=15000000,
            reference="sub-42-2024-08-a1",
            currency="NGN",
            callback_url="https://app.example/billing/callback",
            metadata={"organization_id": 42, "cancel_action": "https://app.example/billing"},
        )
        assert cassette.all_played
    assert result.authorization_url == "https://checkout.paystack.com/3ni8kdavz62431k"
    assert (result.access_code, result.reference) == ("3ni8kdavz62431k", "sub-42-2024-08-a1")


def test_charge_authorization(client: PaystackClient) -> None:
    with _cassette("charge_authorization", with_body=True) as cassette:
        tx = client.charge_authorization(
            email="billing@acme.example",
            amount=15000000,
            authorization_code="AUTH_8dfhjjdt",
            reference="dun-42-202409-1",
            currency="NGN",
            metadata={"subscription_id": 7, "period": "2024-09", "attempt": 1},
        )
        assert cassette.all_played
    assert (tx.id, tx.status, tx.reference) == (4121370036, "failed", "dun-42-202409-1")
    assert (tx.amount, tx.gateway_response) == (15000000, "Insufficient Funds")
    assert tx.transaction_date == datetime(2024, 9, 1, 7, 0, 44, tzinfo=UTC)
    assert tx.paused is False
    assert tx.metadata == '{"subscription_id":7,"period":"2024-09","attempt":1}'  # stringified, as sent


def test_a_changed_post_body_does_not_match_the_cassette(client: PaystackClient) -> None:
    with (
        _cassette("create_refund", with_body=True),
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        client.create_refund(transaction="T685312322670591", amount=4001)


# -- hygiene of the cassettes themselves -----------------------------------------------------------
CASSETTE_FILES = sorted(CASSETTES.glob("*.yaml"))


def test_there_is_a_cassette_per_endpoint() -> None:
    assert {path.stem for path in CASSETTE_FILES} >= {
        "verify_transaction",
        "fetch_transaction",
        "list_transactions_offset",
        "list_transactions_cursor",
        "list_refunds",
        "fetch_refund",
        "create_refund",
        "initialize_transaction",
        "charge_authorization",
    }


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: p.name)
def test_cassettes_hold_no_credentials(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for needle in ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "Bearer ", "LEAKCANARY"):
        assert needle not in text, f"{path.name} contains {needle!r}"
    document = yaml.safe_load(text)
    assert document["interactions"], f"{path.name} has no interactions"
    for interaction in document["interactions"]:
        for side in ("request", "response"):
            headers = {name.lower() for name in (interaction[side].get("headers") or {})}
            assert "authorization" not in headers, f"{path.name}: {side} has an Authorization header"
            assert "cookie" not in headers
            assert "set-cookie" not in headers
