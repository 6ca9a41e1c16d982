"""Reading a webhook body the way Paystack sent it: raw bytes, bounded, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proaudit_ops.errors import UsageError

MAX_BODY_BYTES = 1024 * 1024  # Paystack events are small; anything over 1 MiB is not one.


def read_body(path: Path) -> bytes:
    """The file's exact bytes (never re-serialised: the signature covers these bytes)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}", hint="pass the raw request body with --file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_BODY_BYTES:
        raise UsageError(
            f"{path} is {size} bytes, over the 1 MiB limit for a webhook body",
            hint="pass the raw body of one event",
        )
    return path.read_bytes()


def parse_event(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise UsageError(f"body is {len(body)} bytes, over the 1 MiB limit for a webhook body")
    try:
        event = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"body is not JSON: {exc}", hint="a Paystack webhook body is a JSON object") from None
    if not isinstance(event, dict):
        raise UsageError("body is JSON but not an object", hint='expected {"event": ..., "data": {...}}')
    return event


def canonical_bytes(event: dict[str, Any]) -> bytes:
    """The one serialisation the tool produces: same event, same bytes (deduplicable)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
