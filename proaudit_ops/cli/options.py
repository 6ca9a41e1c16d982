"""Option parsing shared by command modules: durations and counts, bounded, errors naming the flag."""

from __future__ import annotations

from datetime import timedelta

import typer

# Every duration flag (`--since`, `--older-than`) stays within ten years: no billing window is
# longer, and a longer one is a typo (and would overflow date arithmetic). A window of zero
# covers nothing, so a window is at least a second; an age threshold may be zero (every row).
MIN_WINDOW = timedelta(seconds=1)
MAX_WINDOW = timedelta(days=3650)
MAX_HOURS = 3650 * 24  # `--hours`: the same ten years, counted in hours


def parse_window(
    text: str, flag: str, *, minimum: timedelta = MIN_WINDOW, maximum: timedelta = MAX_WINDOW
) -> timedelta:
    """`15m`, `24h`, `30d` -> timedelta; a bad or out-of-range value is a usage error (exit 2) naming the flag."""
    from proaudit_ops.timeutil import parse_duration

    try:
        return parse_duration(text, minimum=minimum, maximum=maximum)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


def parse_age(text: str, flag: str) -> timedelta:
    """An age threshold such as `--older-than`: like a window, but zero is allowed (no minimum age)."""
    return parse_window(text, flag, minimum=timedelta(0))


MAX_URL_CHARS = 2048


def check_endpoint_url(value: str | None) -> str | None:
    """`--url`: an http(s) URL with a host, no credentials, no spaces, bounded (a typer callback)."""
    from urllib.parse import urlsplit

    if value is None:
        return None
    hint = "e.g. https://api.example.com/api/v1/billing/webhook/paystack"
    why: str | None = None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError:
        why = "is not a valid URL"
    else:
        if len(value) > MAX_URL_CHARS:
            why = f"is longer than {MAX_URL_CHARS} characters"
        elif parts.scheme.lower() not in ("http", "https"):
            why = "is not an http(s) URL"
        elif not parts.hostname:
            why = "has no host"
        elif "@" in parts.netloc:
            why = "carries a user name or password (it would be shown and logged)"
        elif any(ch.isspace() or ord(ch) < 32 for ch in value):
            why = "contains a space or a control character"
    if why is not None:
        shown = value if len(value) <= 60 else value[:60] + "..."
        raise typer.BadParameter(f"{shown!r} {why} ({hint})")
    return value
