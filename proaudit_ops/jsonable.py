"""Turn result objects into JSON-ready values (dataclasses, datetimes, enums, Money)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from proaudit_ops.money import Money, format_amount
from proaudit_ops.timeutil import iso


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return {
            "subunits": value.subunits,
            "currency": value.currency,
            "formatted": format_amount(value.subunits, value.currency),
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {
            f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")
        }
        # Derived values a reader needs (a plan's hash) are named by the class: JSON_EXTRA = (...).
        for name in getattr(type(value), "JSON_EXTRA", ()):
            out[name] = to_jsonable(getattr(value, name))
        return out
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "model_dump"):  # pydantic models from the Paystack client
        return to_jsonable(value.model_dump(mode="python"))
    return value
