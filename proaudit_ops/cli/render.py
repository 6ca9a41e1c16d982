"""Shared rendering helpers for human output (rich is imported here, never in core/)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from proaudit_ops.money import Money
from proaudit_ops.timeutil import iso

if TYPE_CHECKING:
    from rich.console import Console


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def money(value: Money | None) -> str:
    return "—" if value is None else f"{value.format()} ({value.subunits})"


def when(value: datetime | None) -> str:
    return "—" if value is None else (iso(value) or "—")


def text(value: object) -> str:
    return "—" if value is None or value == "" else str(value)


STYLE_BY_HEALTH = {True: "green", False: "bold red"}


def value(key: str, raw: object, currency: object = None) -> str:
    """A database value for display: money columns in both forms, times in ISO UTC."""
    from proaudit_ops.money import describe_amount

    if raw is None:
        return "—"
    if key.endswith("_kobo") and isinstance(raw, int):
        return describe_amount(raw, str(currency or "NGN"))
    if isinstance(raw, datetime):
        return when(raw)
    return str(raw)
