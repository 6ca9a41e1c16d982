"""Reading a webhook body the way Paystack sent it: raw bytes, bounded, JSON."""

from __future__ import annotations

import json
import os
from typing import Any

from proaudit_ops.errors import UsageError
from proaudit_ops.files import MAX_BODY_BYTES, parse_json, read_regular_file

__all__ = ["MAX_BODY_BYTES", "canonical_bytes", "parse_event", "read_body"]


def read_body(path: str | os.PathLike[str]) -> bytes:
    """The file's exact bytes (never re-serialised: the signature covers these bytes).

    Through files.read_regular_file: a directory, a device, a FIFO or an empty path is refused,
    and at most MAX_BODY_BYTES are read (a Paystack event is a few KiB).
    """
    return read_regular_file(
        path, "--file", max_bytes=MAX_BODY_BYTES, hint="pass the raw request body of one event as a regular file"
    )


def parse_event(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise UsageError(f"body is {len(body)} bytes, over the 1 MiB limit for a webhook body")
    event = parse_json(body, "webhook body", hint="a Paystack webhook body is a JSON object")
    if not isinstance(event, dict):
        raise UsageError("body is JSON but not an object", hint='expected {"event": ..., "data": {...}}')
    return event


def canonical_bytes(event: dict[str, Any]) -> bytes:
    """The one serialisation the tool produces: same event, same bytes (deduplicable)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
