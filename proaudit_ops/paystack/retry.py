"""The retry policy for Paystack reads (GET only: a POST is never retried, see client.py).

Retried: transport failures that a second try can fix (timeouts, connection errors, a dropped
connection) and HTTP 429, 500, 502, 503, 504. The wait is AWS "full jitter"
(`wait_random_exponential`); when a 429 or 503 carries `Retry-After` (delta-seconds or an
HTTP-date) we wait max(Retry-After, jitter). Every wait is capped at `max_wait_s`. Paystack does
not document its rate-limit header names (reference section 7), so only the standard
`Retry-After` is read; without it the jitter applies.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
)
from tenacity.wait import wait_base, wait_random_exponential

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})
# Failures that happen the same way on every try: retrying them only delays the error.
_NOT_RETRYABLE_TRANSPORT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds (>= 0), from delta-seconds or an HTTP-date; None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def is_retryable_exception(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, _NOT_RETRYABLE_TRANSPORT)


def is_retryable_response(result: object) -> bool:
    return isinstance(result, httpx.Response) and result.status_code in RETRYABLE_STATUS


def retry_after_of(retry_state: RetryCallState) -> float | None:
    """The `Retry-After` of the last answer, if it was a 429/503 that carried one."""
    outcome = retry_state.outcome
    if outcome is None or outcome.failed:
        return None
    response = outcome.result()
    if not isinstance(response, httpx.Response) or response.status_code not in RETRY_AFTER_STATUS:
        return None
    return parse_retry_after(response.headers.get("retry-after"))


class wait_retry_after_or_jitter(wait_base):
    """Full jitter, raised to `Retry-After` when the server sent one; never above `max_wait_s`."""

    def __init__(self, *, max_wait_s: float, multiplier: float = 1.0) -> None:
        self.max_wait_s = max(0.0, max_wait_s)
        self._jitter = wait_random_exponential(multiplier=multiplier, max=self.max_wait_s)

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = float(self._jitter(retry_state))
        retry_after = retry_after_of(retry_state)
        if retry_after is not None:
            wait = max(retry_after, wait)
        return min(wait, self.max_wait_s)


def _return_last_outcome(retry_state: RetryCallState) -> object:
    """When attempts run out, hand back the last response (or raise the last exception)."""
    assert retry_state.outcome is not None
    return retry_state.outcome.result()


def read_retrying(
    *,
    max_retries: int,
    sleep: Callable[[float], None],
    max_wait_s: float,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> Retrying:
    """A tenacity `Retrying` for one GET: `max_retries + 1` attempts in all.

    When attempts run out the caller gets the last response (a 429/5xx to map to an error) or
    the last transport exception, never a `tenacity.RetryError`.
    """
    return Retrying(
        stop=stop_after_attempt(max(0, max_retries) + 1),
        wait=wait_retry_after_or_jitter(max_wait_s=max_wait_s),
        retry=retry_if_exception(is_retryable_exception) | retry_if_result(is_retryable_response),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=_return_last_outcome,
    )
