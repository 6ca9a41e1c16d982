"""Option parsing shared by command modules."""

from __future__ import annotations

from datetime import timedelta

import typer


def parse_window(text: str, flag: str) -> timedelta:
    """`15m`, `24h`, `30d` -> timedelta; a bad value is a usage error (exit 2) naming the flag."""
    from proaudit_ops.timeutil import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None
