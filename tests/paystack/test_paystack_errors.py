"""Error mapping: every failure is one PaystackError line with Paystack's message and a next step;
a POST is never retried and an unanswered POST is PaystackRequestAmbiguous (exit code 5)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from paystack_fakes import FAKE_KEY, FakePaystack, fail, ok, transaction

from proaudit_ops.errors import (
    ExitCode,
    PaystackError,
    PaystackNotFound,
    PaystackRequestAmbiguous,
)
from proaudit_ops.paystack import PaystackClient

MakeClient = Callable[..., PaystackClient]


def _refund(client: PaystackClient) -> object:
    return client.create_refund(transaction="T685312322670591", amount=5000)


def _charge(client: PaystackClient) -> object:
    return client.charge_authorization(
        email="demo@test.com", amount=5000, authorization_code="AUTH_x", reference="dun-1"
    )


def _initialize(client: PaystackClient) -> object:
    return client.initialize_transaction(email="demo@test.com", amount=5000, reference="ini-1")


POSTS = [
    pytest.param(_refund, id="create_refund"),
    pytest.param(_charge, id="charge_authorization"),
    pytest.param(_initialize, id="initialize_transaction"),
]


# -- GET ---------------------------------------------------------------------------------------
def test_401_names_the_key_problem(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(401, "Invalid key"))
    with pytest.raises(PaystackError) as info:
        make_client(fake).verify_transaction("ref")
    exc = info.value
    assert type(exc) is PaystackError
    assert str(exc) == "Paystack rejected the secret key (HTTP 401: Invalid key)"
    assert exc.hint == "check PAYSTACK_SECRET_KEY (no whitespace; sk_test_ vs sk_live_)"
    assert exc.status_code == 401
    assert exc.exit_code == ExitCode.UNAVAILABLE
    assert len(fake.requests) == 1


def test_404_is_not_found_with_paystack_message_and_next_step(make_client: MakeClient) -> None:
    fake = FakePaystack(
        fail(
            404,
            "Transaction reference not found",
            next_step="Ensure that you're passing the correct reference",
        )
    )
    with pytest.raises(PaystackNotFound) as info:
        make_client(fake).verify_transaction("nope")
    exc = info.value
    assert "Transaction reference not found" in str(exc)
    assert "HTTP 404" in str(exc)
    assert exc.hint == "Ensure that you're passing the correct reference"
    assert exc.status_code == 404
    assert len(fake.requests) == 1


def test_400_status_false_not_found_message_is_not_found(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(400, "Transaction not found"))
    with pytest.raises(PaystackNotFound) as info:
        make_client(fake).fetch_transaction(12)
    assert info.value.status_code == 400
    assert "Transaction not found" in str(info.value)
    assert info.value.hint  # a default next step


def test_status_false_as_a_string_on_http_200_is_a_failure(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(200, "Invalid transaction reference", status="false"))
    with pytest.raises(PaystackError) as info:
        make_client(fake).verify_transaction("ref")
    assert type(info.value) is PaystackError
    assert "Invalid transaction reference" in str(info.value)
    assert info.value.status_code == 200


def test_status_false_not_found_on_http_200_is_not_found(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(200, "Refund not found", status=False))
    with pytest.raises(PaystackNotFound):
        make_client(fake).fetch_refund(5)


@pytest.mark.parametrize("status_code", [400, 422])
def test_validation_errors_carry_code_type_and_snake_case_next_step(make_client: MakeClient, status_code: int) -> None:
    response = httpx.Response(
        status_code,
        json={
            "status": False,
            "message": 'Invalid Refund state, refund status should be "needs-attention"',
            "meta": {"next_step": "Retry only refunds that need attention"},
            "type": "validation_error",
            "code": "invalid_params",
        },
    )
    fake = FakePaystack(response)
    with pytest.raises(PaystackError) as info:
        make_client(fake).fetch_refund(5)
    exc = info.value
    assert type(exc) is PaystackError
    assert (exc.status_code, exc.paystack_code, exc.paystack_type) == (
        status_code,
        "invalid_params",
        "validation_error",
    )
    assert 'refund status should be "needs-attention"' in str(exc)
    assert exc.hint == "Retry only refunds that need attention"
    assert len(fake.requests) == 1  # a 4xx is never retried


def test_429_after_retries_says_how_many_attempts(make_client: MakeClient, sleeps: list[float]) -> None:
    limited = fail(
        429,
        "Rate limit exceeded!",
        next_step="Wait a few minutes before retrying",
        code="rate_limited",
        type_="api_error",
    )
    fake = FakePaystack(limited, limited, limited)
    with pytest.raises(PaystackError) as info:
        make_client(fake, max_retries=2).verify_transaction("ref")
    exc = info.value
    assert len(fake.requests) == 3
    assert len(sleeps) == 2
    assert "3 attempts" in str(exc)
    assert "Rate limit exceeded!" in str(exc)
    assert exc.hint == "Wait a few minutes before retrying"
    assert (exc.status_code, exc.paystack_code) == (429, "rate_limited")


def test_500_with_an_html_body_after_retries(make_client: MakeClient) -> None:
    page = httpx.Response(500, text="<html><body>Internal Server Error</body></html>")
    fake = FakePaystack(page, page, page, page)
    with pytest.raises(PaystackError) as info:
        make_client(fake).fetch_transaction(1)
    exc = info.value
    assert len(fake.requests) == 4  # max_retries=3 by default
    assert "HTTP 500" in str(exc)
    assert "4 attempts" in str(exc)
    assert "not JSON" in str(exc)
    assert exc.status_code == 500
    assert "status.paystack.com" in (exc.hint or "")


def test_read_timeout_on_get_after_retries(make_client: MakeClient) -> None:
    fake = FakePaystack(httpx.ReadTimeout, httpx.ReadTimeout)
    with pytest.raises(PaystackError) as info:
        make_client(fake, max_retries=1, timeout_s=2.5).verify_transaction("ref")
    exc = info.value
    assert type(exc) is PaystackError
    assert exc.status_code is None
    assert "did not answer" in str(exc)
    assert "2.5s" in str(exc)
    assert "2 attempts" in str(exc)
    assert len(fake.requests) == 2


def test_connect_error_on_get_after_retries(make_client: MakeClient) -> None:
    fake = FakePaystack(httpx.ConnectError, httpx.ConnectError, httpx.ConnectError)
    with pytest.raises(PaystackError) as info:
        make_client(fake, max_retries=2).verify_transaction("ref")
    assert info.value.status_code is None
    assert "could not be reached" in str(info.value)
    assert "api.paystack.co" in str(info.value)
    assert len(fake.requests) == 3


@pytest.mark.parametrize("status_code", [200, 400])
def test_a_body_that_is_not_json(make_client: MakeClient, status_code: int) -> None:
    fake = FakePaystack(httpx.Response(status_code, text="upstream connect error"))
    with pytest.raises(PaystackError) as info:
        make_client(fake).verify_transaction("ref")
    assert str(info.value).startswith(f"Paystack answered HTTP {status_code} with a body that is not JSON")
    assert len(fake.requests) == 1


def test_a_json_body_that_is_not_an_object_counts_as_not_json(make_client: MakeClient) -> None:
    fake = FakePaystack(httpx.Response(200, json=["a", "b"]))
    with pytest.raises(PaystackError, match="not JSON"):
        make_client(fake).verify_transaction("ref")


def test_an_unreadable_payload_on_get_is_a_plain_error(make_client: MakeClient) -> None:
    fake = FakePaystack(ok(transaction(amount="12.50")))
    with pytest.raises(PaystackError) as info:
        make_client(fake).verify_transaction("ref")
    assert type(info.value) is PaystackError
    assert "amount" in str(info.value)


def test_messages_are_one_line(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(400, "line one\nline two\r\n\tline three"))
    with pytest.raises(PaystackError) as info:
        make_client(fake).verify_transaction("ref")
    assert "\n" not in str(info.value)
    assert "line one line two line three" in str(info.value)


# -- POST: never retried -------------------------------------------------------------------------
@pytest.mark.parametrize("call", POSTS)
def test_post_503_is_ambiguous_and_sent_once(
    make_client: MakeClient, sleeps: list[float], call: Callable[[PaystackClient], object]
) -> None:
    fake = FakePaystack(fail(503, "Service Unavailable"), ok({}))
    with pytest.raises(PaystackRequestAmbiguous) as info:
        call(make_client(fake))
    exc = info.value
    assert len(fake.requests) == 1
    assert sleeps == []
    assert exc.exit_code == ExitCode.UNKNOWN_OUTCOME
    assert int(exc.exit_code) == 5
    assert "outcome unknown" in str(exc)
    assert "before retrying" in str(exc)
    assert exc.status_code == 503
    assert exc.hint


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_post_refund_that_may_have_reached_paystack_is_ambiguous(
    make_client: MakeClient, sleeps: list[float], failure: type[httpx.TransportError]
) -> None:
    fake = FakePaystack(failure, ok({}))
    with pytest.raises(PaystackRequestAmbiguous) as info:
        _refund(make_client(fake))
    assert len(fake.requests) == 1
    assert sleeps == []
    assert info.value.status_code is None
    assert "outcome unknown" in str(info.value)
    assert "refunds of transaction T685312322670591" in (info.value.hint or "")


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout])
@pytest.mark.parametrize("call", POSTS)
def test_post_that_never_left_is_a_plain_error(
    make_client: MakeClient,
    failure: type[httpx.TransportError],
    call: Callable[[PaystackClient], object],
) -> None:
    fake = FakePaystack(failure, ok({}))
    with pytest.raises(PaystackError) as info:
        call(make_client(fake))
    assert not isinstance(info.value, PaystackRequestAmbiguous)
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert "was not sent" in str(info.value)
    assert len(fake.requests) == 1


def test_post_2xx_not_json_is_ambiguous(make_client: MakeClient) -> None:
    fake = FakePaystack(httpx.Response(200, text='{"status": true, "data": {"id": 30'))
    with pytest.raises(PaystackRequestAmbiguous, match="not JSON"):
        _refund(make_client(fake))


def test_post_2xx_with_an_unreadable_refund_is_ambiguous(make_client: MakeClient) -> None:
    fake = FakePaystack(ok({"status": "pending", "amount": 5000}))  # no refund id
    with pytest.raises(PaystackRequestAmbiguous) as info:
        _refund(make_client(fake))
    assert "id" in str(info.value)


def test_post_2xx_without_data_is_ambiguous(make_client: MakeClient) -> None:
    fake = FakePaystack(httpx.Response(200, json={"status": True, "message": "Refund queued"}))
    with pytest.raises(PaystackRequestAmbiguous):
        _refund(make_client(fake))


def test_post_duplicate_reference_is_a_plain_error_with_code(make_client: MakeClient) -> None:
    fake = FakePaystack(
        fail(
            400,
            "Duplicate Transaction Reference",
            next_step="Use a unique reference",
            code="duplicate_reference",
            type_="validation_error",
        )
    )
    with pytest.raises(PaystackError) as info:
        _charge(make_client(fake))
    exc = info.value
    assert not isinstance(exc, PaystackRequestAmbiguous)
    assert exc.paystack_code == "duplicate_reference"
    assert "Duplicate Transaction Reference" in str(exc)
    assert exc.hint == "Use a unique reference"


def test_post_status_false_on_200_is_a_plain_error(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(200, "Transaction has been fully reversed", status="false"))
    with pytest.raises(PaystackError) as info:
        _refund(make_client(fake))
    assert not isinstance(info.value, PaystackRequestAmbiguous)
    assert "fully reversed" in str(info.value)


def test_post_429_is_not_retried_and_not_ambiguous(make_client: MakeClient, sleeps: list[float]) -> None:
    fake = FakePaystack(fail(429, "Rate limit exceeded!", headers={"Retry-After": "1"}), ok({}))
    with pytest.raises(PaystackError) as info:
        _refund(make_client(fake))
    assert not isinstance(info.value, PaystackRequestAmbiguous)
    assert len(fake.requests) == 1
    assert sleeps == []


def test_post_401_is_not_ambiguous(make_client: MakeClient) -> None:
    fake = FakePaystack(fail(401, "Invalid key"))
    with pytest.raises(PaystackError) as info:
        _refund(make_client(fake))
    assert not isinstance(info.value, PaystackRequestAmbiguous)
    assert info.value.status_code == 401


# -- the secret key never leaks ------------------------------------------------------------------
LEAK_SCENARIOS = [
    pytest.param(lambda: fail(401, f"Invalid key {FAKE_KEY}"), id="401-echoing-the-key"),
    pytest.param(lambda: fail(400, f"Bearer {FAKE_KEY} is not allowed"), id="400-echo"),
    pytest.param(lambda: fail(404, "not found", next_step=f"use {FAKE_KEY}"), id="hint-echo"),
    pytest.param(lambda: httpx.Response(502, text=f"bad gateway {FAKE_KEY}"), id="502-html"),
    pytest.param(lambda: httpx.ReadTimeout(f"timeout {FAKE_KEY}"), id="timeout"),
    pytest.param(lambda: httpx.ConnectError(f"refused {FAKE_KEY}"), id="connect"),
]


@pytest.mark.parametrize("scenario", LEAK_SCENARIOS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_key_never_appears_in_errors_or_logs(
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    scenario: Callable[[], object],
    method: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [scenario() for _ in range(4)]
    fake = FakePaystack(*answers)  # type: ignore[arg-type]
    client = make_client(fake)
    call = (lambda c: c.verify_transaction("ref")) if method == "get" else _refund
    with pytest.raises(PaystackError) as info:
        call(client)
    exc = info.value
    for text in (str(exc), repr(exc), exc.hint or "", repr(client), caplog.text):
        assert FAKE_KEY not in text
        assert "LEAKCANARY" not in text


def test_retries_are_logged_without_the_key(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="proaudit_ops.paystack")
    fake = FakePaystack(fail(503, "down"), ok(transaction()))
    make_client(fake).verify_transaction("re4lyvq3s3")
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 1
    assert retries[0].levelno == logging.INFO
    assert "HTTP 503 on attempt 1 of 4" in retries[0].getMessage()
    assert "LEAKCANARY" not in caplog.text
