"""Every object Paystack returns must be in the key's mode: `domain` "live" for sk_live_, "test" for
sk_test_. A mismatch (test data answering a live key, or the reverse) is refused (exit 4) before the
tool acts on it, naming the object and both modes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from paystack_fakes import FakePaystack, ok, refund, transaction
from sqlalchemy import Engine

from proaudit_ops.errors import ExitCode, PaystackModeMismatch, Refused
from proaudit_ops.paystack import PaystackClient
from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
from proaudit_ops.sandbox.seed import seed_billing, seed_simulator
from proaudit_ops.sandbox.state import create_sim_schema
from proaudit_ops.sandbox.transport import simulator_transport
from proaudit_ops.timeutil import utcnow

LIVE_KEY = "sk_live_FAKEcanary01"
TEST_KEY = "sk_test_FAKE0123456789abcdef"
OFFSET_META = {"total": 1, "skipped": 0, "perPage": 100, "page": 1, "pageCount": 1}
REFUND_META = {"total": 1, "skipped": 0, "perPage": "100", "page": 1, "pageCount": 1, "failedRefundCount": 0}

Call = Callable[[PaystackClient], object]


def _other(mode: str) -> str:
    return "test" if mode == "live" else "live"


CALLS: list[tuple[str, Call, Callable[[str], httpx.Response], str]] = [
    ("verify", lambda c: c.verify_transaction("re4lyvq3s3"), lambda d: ok(transaction(domain=d)), "transaction"),
    ("fetch", lambda c: c.fetch_transaction(4099260516), lambda d: ok(transaction(domain=d)), "transaction"),
    (
        "list",
        lambda c: c.list_transactions_page(page=1),
        lambda d: ok([transaction(domain=_other(d)), transaction(id=2, reference="r2", domain=d)], meta=OFFSET_META),
        "transaction 2 (r2)",
    ),
    (
        "charge",
        lambda c: c.charge_authorization(email="a@b.ng", amount=1, authorization_code="AUTH_x", reference="r1"),
        lambda d: ok(transaction(reference="r1", domain=d)),
        "transaction",
    ),
    ("fetch_refund", lambda c: c.fetch_refund(3018284), lambda d: ok(refund(domain=d)), "refund 3018284"),
    (
        "list_refunds",
        lambda c: c.list_refunds(transaction=1004723697),
        lambda d: ok([refund(domain=d)], meta=REFUND_META),
        "refund 3018284 (T685312322670591)",
    ),
    ("create_refund", lambda c: c.create_refund(transaction="T1"), lambda d: ok(refund(domain=d)), "refund"),
    (
        "create_refund_embedded",
        lambda c: c.create_refund(transaction="T1"),
        lambda d: ok({**refund(domain=_other(d)), "transaction": {"id": 9, "domain": d}}),
        "transaction 9",
    ),
]


def _client(key: str, answer: httpx.Response) -> PaystackClient:
    return PaystackClient(key, transport=httpx.MockTransport(FakePaystack(answer)), max_retries=0)


@pytest.mark.parametrize(("key", "key_mode", "answered"), [(LIVE_KEY, "live", "test"), (TEST_KEY, "test", "live")])
@pytest.mark.parametrize(("name", "call", "answer", "what"), CALLS, ids=[c[0] for c in CALLS])
def test_an_object_from_the_other_mode_is_refused(
    key: str, key_mode: str, answered: str, name: str, call: Call, answer: Callable[[str], httpx.Response], what: str
) -> None:
    # create_refund_embedded: the refund is in the key's mode, its embedded transaction is not
    with _client(key, answer(answered)) as client, pytest.raises(PaystackModeMismatch) as caught:
        call(client)
    error = caught.value
    assert isinstance(error, Refused)
    assert error.exit_code == ExitCode.REFUSED
    assert what in error.message
    assert f"domain '{answered}'" in error.message
    assert f"{key_mode} key" in error.message
    assert "FAKE0123" not in error.message + (error.hint or "")
    assert error.hint is not None and "PAYSTACK_BASE_URL" in error.hint


@pytest.mark.parametrize(("key", "mode"), [(LIVE_KEY, "live"), (TEST_KEY, "test")])
@pytest.mark.parametrize(("name", "call", "answer", "what"), CALLS, ids=[c[0] for c in CALLS])
def test_an_object_in_the_keys_mode_is_read(
    key: str, mode: str, name: str, call: Call, answer: Callable[[str], httpx.Response], what: str
) -> None:
    response = answer(mode)
    if name == "create_refund_embedded":
        response = ok({**refund(domain=mode), "transaction": {"id": 9, "domain": mode.upper()}})  # case-blind
    if name == "list":
        response = ok([transaction(domain=mode), transaction(id=2, reference="r2", domain=mode)], meta=OFFSET_META)
    with _client(key, response) as client:
        assert call(client) is not None


def test_no_domain_or_a_key_without_a_mode_has_nothing_to_compare() -> None:
    without = {k: v for k, v in transaction().items() if k != "domain"}
    with _client(LIVE_KEY, ok(without)) as client:
        assert client.verify_transaction("re4lyvq3s3").domain is None
    with _client("sandbox-key-without-prefix", ok(transaction(domain="live"))) as client:
        assert client.verify_transaction("re4lyvq3s3").domain == "live"


@pytest.fixture
def sim_engine(sqlite_engine: Engine) -> Engine:
    now = utcnow().replace(microsecond=0)
    create_sim_schema(sqlite_engine)
    seed_billing(sqlite_engine, now=now)
    seed_simulator(sqlite_engine, now=now)
    return sqlite_engine


@pytest.mark.parametrize("key", [SANDBOX_SECRET_KEY, LIVE_KEY])
def test_the_simulator_answers_in_the_keys_mode(sim_engine: Engine, key: str) -> None:
    """The sandbox (sk_test_ key, domain test) keeps working; so does a live key over the simulator."""
    with PaystackClient(key, transport=simulator_transport(sim_engine), max_retries=0) as client:
        tx = client.verify_transaction("PSK-REFUND-0001")
        assert tx.domain == client.mode
        assert tx.id is not None
        assert client.fetch_transaction(tx.id).domain == client.mode
        assert all(item.domain == client.mode for item in client.list_transactions_page(page=1).items)
        created = client.create_refund(transaction=str(tx.id), amount=1000)
        assert created.domain == client.mode
        assert client.fetch_refund(created.id).domain == client.mode
        assert [r.id for r in client.list_refunds(transaction=tx.id)] == [created.id]
