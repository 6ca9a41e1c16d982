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
