"""Timezone-aware UTC time, and the duration syntax the commands take (`15m`, `24h`, `30d`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """`15m`, `24h`, `30d`, `2w`, `90s` -> timedelta; ValueError otherwise."""
    match = _DURATION_RE.match(text.lower())
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 15m, 24h, 30d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_iso(value: str | None) -> datetime | None:
    """Paystack timestamps: `2024-08-22T09:15:02.000Z`; None/empty/'null' -> None."""
    if value is None or value in ("", "null"):
        return None
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return as_utc(parsed)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = as_utc(value)
    assert aware is not None
    return aware.isoformat().replace("+00:00", "Z")
