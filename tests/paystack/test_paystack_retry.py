"""Read retries: which failures are retried, how many attempts, and how long the waits are."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paystack_fakes import FakePaystack, fail, ok, transaction
from tenacity import RetryCallState

from proaudit_ops.errors import PaystackError, PaystackNotFound
from proaudit_ops.paystack import PaystackClient
from proaudit_ops.paystack.retry import parse_retry_after, wait_retry_after_or_jitter

MakeClient = Callable[..., PaystackClient]


@pytest.mark.parametrize("status_code", [429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_until_success(
    make_client: MakeClient, sleeps: list[float], status_code: int
) -> None:
    fake = FakePaystack(fail(status_code, "busy"), fail(status_code, "busy"), ok(transaction()))
    tx = make_client(fake).verify_transaction("re4lyvq3s3")
    assert tx.reference == "re4lyvq3s3"
    assert len(fake.requests) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError, httpx.RemoteProtocolError],
)
def test_transport_errors_are_retried_on_get(
    make_client: MakeClient, sleeps: list[float], failure: type[httpx.TransportError]
) -> None:
    fake = FakePaystack(failure, ok(transaction()))
    assert make_client(fake).verify_transaction("re4lyvq3s3").amount == 40333
    assert len(fake.requests) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("max_retries", [0, 1, 3, 5])
def test_attempts_are_max_retries_plus_one(make_client: MakeClient, sleeps: list[float], max_retries: int) -> None:
    fake = FakePaystack(*[fail(503, "down") for _ in range(max_retries + 1)])
    with pytest.raises(PaystackError, match=f"{max_retries + 1} attempt"):
        make_client(fake, max_retries=max_retries).fetch_refund(1)
    assert len(fake.requests) == max_retries + 1
    assert len(sleeps) == max_retries


@pytest.mark.parametrize("status_code", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(make_client: MakeClient, sleeps: list[float], status_code: int) -> None:
    fake = FakePaystack(fail(status_code, "no"), ok(transaction()))
    with pytest.raises(PaystackError):
        make_client(fake).verify_transaction("x")
    assert len(fake.requests) == 1
    assert sleeps == []


def test_jitter_without_retry_after_is_full_jitter_within_the_window(
    make_client: MakeClient, sleeps: list[float]
) -> None:
    fake = FakePaystack(*[fail(503, "down") for _ in range(6)])
    with pytest.raises(PaystackError):
        make_client(fake, max_retries=5, max_retry_wait_s=10).verify_transaction("x")
    assert len(sleeps) == 5
    for attempt, waited in enumerate(sleeps, start=1):
        assert 0 <= waited <= min(2 ** (attempt - 1), 10)


@pytest.mark.parametrize("status_code", [429, 503])
def test_retry_after_seconds_is_honoured(make_client: MakeClient, sleeps: list[float], status_code: int) -> None:
    fake = FakePaystack(
        fail(status_code, "Rate limit exceeded!", headers={"Retry-After": "7"}),
        ok(transaction()),
    )
    make_client(fake).verify_transaction("x")
    # the first jitter window is [0, 1] s, so the server's 7 s wins.
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured_and_capped(make_client: MakeClient, sleeps: list[float]) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    fake = FakePaystack(fail(429, "slow down", headers={"Retry-After": later}), ok(transaction()))
    make_client(fake, max_retry_wait_s=12.5).verify_transaction("x")
    assert sleeps == [12.5]


def test_retry_after_above_the_cap_is_capped(make_client: MakeClient, sleeps: list[float]) -> None:
    fake = FakePaystack(fail(503, "down", headers={"Retry-After": "120"}), ok(transaction()))
    make_client(fake, max_retry_wait_s=5).verify_transaction("x")
    assert sleeps == [5.0]


def test_retry_after_on_a_500_is_ignored(make_client: MakeClient, sleeps: list[float]) -> None:
    fake = FakePaystack(fail(500, "oops", headers={"Retry-After": "60"}), ok(transaction()))
    make_client(fake).verify_transaction("x")
    assert len(sleeps) == 1
    assert sleeps[0] <= 1.0


def test_unreadable_retry_after_falls_back_to_jitter(make_client: MakeClient, sleeps: list[float]) -> None:
    fake = FakePaystack(fail(429, "slow", headers={"Retry-After": "soon"}), ok(transaction()))
    make_client(fake).verify_transaction("x")
    assert len(sleeps) == 1
    assert sleeps[0] <= 1.0


def test_not_found_after_a_retry_is_still_not_found(make_client: MakeClient, sleeps: list[float]) -> None:
    fake = FakePaystack(httpx.ReadTimeout, fail(404, "Transaction reference not found"))
    with pytest.raises(PaystackNotFound):
        make_client(fake).verify_transaction("x")
    assert len(fake.requests) == 2


def test_the_default_sleep_is_never_used_when_one_is_injected(make_client: MakeClient) -> None:
    waited: list[float] = []
    fake = FakePaystack(fail(503, "down", headers={"Retry-After": "3600"}), ok(transaction()))
    make_client(fake, sleep=waited.append, max_retry_wait_s=3600).verify_transaction("x")
    assert waited == [3600.0]


# -- parse_retry_after ---------------------------------------------------------------------------
NOW = datetime(2024, 8, 22, 9, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Thu, 22 Aug 2024 09:15:30 GMT", 30.0),
        ("Thu, 22 Aug 2024 09:14:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# -- the wait strategy, as a property -------------------------------------------------------------
def _state_after(response: httpx.Response, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_result(response)
    return state


@given(
    attempt=st.integers(min_value=1, max_value=40),
    retry_after=st.one_of(st.none(), st.integers(min_value=0, max_value=100_000)),
    status_code=st.sampled_from([429, 500, 502, 503, 504]),
    cap=st.floats(min_value=0.5, max_value=120, allow_nan=False),
)
def test_wait_is_never_above_the_cap_and_honours_retry_after(
    attempt: int, retry_after: int | None, status_code: int, cap: float
) -> None:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    wait = wait_retry_after_or_jitter(max_wait_s=cap)(
        _state_after(httpx.Response(status_code, headers=headers), attempt)
    )
    assert 0 <= wait <= cap
    if retry_after is not None and status_code in (429, 503):
        assert wait >= min(retry_after, cap)
    else:
        assert wait <= min(2 ** (attempt - 1), cap)
