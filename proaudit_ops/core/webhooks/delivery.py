"""POSTing an event to the billing app's webhook endpoint, what came back, and what it means.

One verdict per attempt, used by the screen, the exit code and the audit record alike, so the
three never disagree: `delivered` (the app accepted it and its inbox does not say failed),
`still failing` (an HTTP error, a connection that never opened, or a 2xx the inbox records as
failed), `unknown` (no answer after the request may have reached the app, and the inbox does not
show it processed).

What the app said it did (`Delivery.answer`) is read from the answer's body, the contract we
expect of the billing app (runbook/webhook-failures.md, "What the app answers"): a JSON object
whose `result` is `applied` (this delivery changed something), `already_applied` (a duplicate:
nothing changed) or `rejected` (the app will not apply it; `detail` says why), e.g.
`{"received": true, "result": "already_applied", "detail": "already applied (payment is success)"}`.
Spelling is forgiving (`already applied`, `Already-Applied`). A body that is not JSON, not an
object, too large, or without a known `result` is not guessed at: `answer` stays None and the
status code (and the inbox) decide, as before. A `rejected` answer is never `delivered`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proaudit_ops.paystack.signatures import SIGNATURE_HEADER

if TYPE_CHECKING:
    import httpx

DELIVERED = "delivered"
STILL_FAILING = "still failing"
UNKNOWN = "unknown"
# The audit outcome of each verdict.
AUDIT_OUTCOME = {DELIVERED: "applied", STILL_FAILING: "failed", UNKNOWN: "unknown"}
# What the app says it did with the event (its answer's `result`), and how we say it.
APPLIED, ALREADY_APPLIED, REJECTED = "applied", "already_applied", "rejected"
ANSWER_WORDS = {APPLIED: "applied", ALREADY_APPLIED: "already applied", REJECTED: "rejected"}
MAX_ANSWER_BYTES = 65_536  # an answer body larger than this is not read for a result


@dataclass(frozen=True)
class Delivery:
    url: str
    status_code: int | None
    latency_ms: int
    error: str | None = None
    # No answer, but the request may have reached the app (a read timeout, a dropped answer,
    # an interrupt while it was in flight); False when the connection never opened.
    maybe_received: bool = False
    answer: str | None = None  # applied | already_applied | rejected; None: the body did not say
    detail: str | None = None  # the app's own words about it (its `detail`), one line

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        if self.status_code is None:
            return f"no answer from {self.url}: {self.error} ({self.latency_ms} ms)"
        return f"HTTP {self.status_code} from {self.url} ({self.latency_ms} ms)"

    def said(self) -> str:
        """What the app answered, in words: `already applied (payment is success)`, or the status code."""
        if self.answer is None:
            if self.status_code is None:
                return "no answer"
            note = "accepted" if self.ok else "refused"
            return f"{note} (HTTP {self.status_code}; the answer does not say whether it applied)"
        words = ANSWER_WORDS[self.answer]
        if not self.detail:
            return words
        return self.detail if self.detail.lower().startswith(words) else f"{words}: {self.detail}"


def verdict(delivery: Delivery, inbox_status: str | None) -> str:
    """delivered | still failing | unknown, from the HTTP answer and the app's inbox afterwards."""
    if delivery.answer == REJECTED:
        return STILL_FAILING
    if delivery.ok:
        return STILL_FAILING if inbox_status == "failed" else DELIVERED
    if delivery.status_code is not None or not delivery.maybe_received:
        return STILL_FAILING
    return DELIVERED if inbox_status == "processed" else UNKNOWN


def deliver(client: httpx.Client, url: str, body: bytes, signature: str | None) -> Delivery:
    """One attempt, never retried here: the caller records every attempt."""
    import httpx

    headers = {"Content-Type": "application/json", "User-Agent": "proaudit-webhook-replay"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    start = time.perf_counter()
    try:
        response = client.post(url, content=body, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return Delivery(url, None, _ms(start), f"{type(exc).__name__}: cannot connect")
    except httpx.TimeoutException:
        return Delivery(url, None, _ms(start), "timed out", maybe_received=True)
    except httpx.TransportError as exc:
        return Delivery(url, None, _ms(start), f"{type(exc).__name__}: no answer", maybe_received=True)
    answer, detail = read_answer(response)
    error = None if response.is_success else _short(response.text)
    if error is None and answer == REJECTED:
        error = detail or "rejected"
    return Delivery(url, response.status_code, _ms(start), error, answer=answer, detail=detail)


def read_answer(response: httpx.Response) -> tuple[str | None, str | None]:
    """(result, detail) from the app's answer body; (None, None) when it does not say (see the module doc)."""
    import json

    content = response.content
    if not content or len(content) > MAX_ANSWER_BYTES:
        return None, None
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    raw = body.get("result")
    result = raw.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(raw, str) else None
    if result not in ANSWER_WORDS:
        return None, None
    detail = body.get("detail")
    return result, _short(detail) if isinstance(detail, str) else None


def interrupted(url: str, start: float) -> Delivery:
    """An attempt cut short by Ctrl-C while its request was in flight."""
    return Delivery(url, None, _ms(start), "interrupted while the request was in flight", maybe_received=True)


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:200]
