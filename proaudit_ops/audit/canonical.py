"""Canonical JSON: one byte sequence per value, so a hash over it means the same thing everywhere.

sort_keys, separators (",", ":"), ensure_ascii=False, NaN/Infinity refused. Values are first
made JSON-able deterministically: datetimes become ISO-8601 UTC strings (`...Z`), Money a dict,
dataclasses dicts, sets sorted lists. Decimal and anything without a stable JSON form are refused
(TypeError): a hash must not depend on how a float happened to be printed or on set order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from proaudit_ops.jsonable import to_jsonable
from proaudit_ops.money import Money

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """The canonical text of a value (made JSON-able with `plain_json` first)."""
    return json.dumps(
        plain_json(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ts_iso(value: datetime) -> str:
    """ISO-8601 UTC with microseconds, always the same width: 2024-08-22T09:15:02.000000Z."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in an audit record: use timezone-aware UTC")
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def plain_json(value: Any) -> Any:
    """A JSON-able copy of `value` built only of dict/list/str/int/float/bool/None.

    Raises TypeError for values without one deterministic JSON form (Decimal, NaN, objects).
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"cannot put a non-finite float in canonical JSON: {value!r}")
        return value
    if isinstance(value, Decimal):
        raise TypeError("Decimal has no canonical JSON form here: use integer subunits (Money)")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"JSON object keys must be strings, got {type(key).__name__}")
            name = str(key)
            if name in out:
                raise TypeError(f"two keys map to the same JSON key {name!r}")
            out[name] = plain_json(item)
        return out
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, set | frozenset):
        items = [plain_json(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, ensure_ascii=False))
    if isinstance(value, Money | datetime | date):
        return plain_json(to_jsonable(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain_json(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")
        }
    converted = to_jsonable(value)
    if converted is value:
        raise TypeError(f"cannot put a {type(value).__name__} in canonical JSON")
    return plain_json(converted)


def canonical_text_or_none(value: Any) -> str | None:
    """How before/after/external_ids are stored: canonical JSON text, SQL NULL for None."""
    return None if value is None else canonical_json(value)
