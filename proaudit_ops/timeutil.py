"""Timezone-aware UTC time, and the duration syntax the commands take (`15m`, `24h`, `30d`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# ASCII digits only (`\d` also matches e.g. Arabic-Indic digits, which int() accepts), matched
# whole (fullmatch: `$` would accept a trailing newline); surrounding whitespace is harmless here.
_DURATION_RE = re.compile(r"\s*([0-9]+)\s*([smhdw])\s*", re.ASCII)
_MAX_DURATION_TEXT = 64  # int() of the digits stays cheap
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# No window the tool works over is longer than ten years; beyond that a value is a typo, and
# `now - window` would soon overflow datetime.
MAX_DURATION = timedelta(days=3650)


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str, *, minimum: timedelta = timedelta(0), maximum: timedelta = MAX_DURATION) -> timedelta:
    """`15m`, `24h`, `30d`, `2w`, `90s` -> timedelta within [minimum, maximum]; ValueError otherwise."""
    match = _DURATION_RE.fullmatch(text.lower()) if len(text) <= _MAX_DURATION_TEXT else None
    if not match:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"not a duration: {shown!r} (expected e.g. 15m, 24h, 30d)")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not minimum.total_seconds() <= seconds <= maximum.total_seconds():
        raise ValueError(
            f"{match.group(1).lstrip('0') or '0'}{match.group(2)} is out of range: allowed {format_duration(minimum)} "
            f"to {format_duration(maximum)}"
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact form in the duration syntax: 3650d, 15m, 90s, 0s."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


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
