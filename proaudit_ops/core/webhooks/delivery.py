"""POSTing an event to the billing app's webhook endpoint, and what came back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proaudit_ops.paystack.signatures import SIGNATURE_HEADER

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class Delivery:
    url: str
    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        if self.status_code is None:
            return f"no answer from {self.url}: {self.error} ({self.latency_ms} ms)"
        return f"HTTP {self.status_code} from {self.url} ({self.latency_ms} ms)"


def deliver(client: httpx.Client, url: str, body: bytes, signature: str | None) -> Delivery:
    """One attempt, never retried here: the caller records every attempt."""
    import httpx

    headers = {"Content-Type": "application/json", "User-Agent": "proaudit-webhook-replay"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    start = time.perf_counter()
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Delivery(url, None, _ms(start), "timed out")
    except httpx.TransportError as exc:
        return Delivery(url, None, _ms(start), f"{type(exc).__name__}: cannot connect")
    error = None if response.is_success else _short(response.text)
    return Delivery(url, response.status_code, _ms(start), error)


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:200]
