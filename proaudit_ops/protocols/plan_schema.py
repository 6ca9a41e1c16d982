"""A plan's values against the billing schema (db/schema.py), before any transaction.

`validate_plan` refuses (UsageError, exit 2, naming table.column) a plan that names an unknown
table or column, or whose values do not fit their column: a string longer than its length, a
non-UUID for a UUID column, a non-integer or out-of-range integer, a non-boolean, a time that is
not ISO-8601. `coerce` turns a checked JSON value back into what the column takes.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, LargeBinary, String, Table, Uuid
from sqlalchemy.types import TypeDecorator

from proaudit_ops.db.schema import metadata as billing_metadata
from proaudit_ops.errors import Refused, UsageError
from proaudit_ops.timeutil import parse_iso

if TYPE_CHECKING:
    from sqlalchemy.sql.schema import Column

    from proaudit_ops.protocols.plan import Plan, RowChange

PROTECTED_TABLES = frozenset({"ops_audit_log"})
_INT32 = 2**31
_INT64 = 2**63


def change_table(change: RowChange) -> Table:
    """The table a change names, its columns known; the audit log is never a target."""
    table = billing_metadata.tables.get(change.table)
    if table is None:
        raise UsageError(f"the plan names an unknown table {change.table!r}")
    if table.name in PROTECTED_TABLES:
        raise Refused(f"{table.name} is append-only: no plan may change it")
    for name in (*change.key, *change.guards, *change.new_values, *change.touch, *change.before):
        if name not in table.c:
            raise UsageError(f"the plan names an unknown column {table.name}.{name}")
    return table


def validate_plan(plan: Plan) -> None:
    """Every value of every change fits its column (a saved plan is checked before apply)."""
    for change in plan.changes:
        table = change_table(change)
        for values in (change.key, change.guards, change.new_values, change.before):
            for name, value in values.items():
                coerce(table.c[name], value)
        for name in change.touch:
            if not isinstance(_base_type(table.c[name]), DateTime):
                raise UsageError(f"the plan touches {table.name}.{name}, which is not a time column")
        for name in change.key:
            if change.key[name] is None:
                raise UsageError(f"the plan's key {table.name}.{name} is null")


def coerce(column: Column[Any], value: Any) -> Any:
    """A plan's JSON value back to what the column takes (ISO strings -> aware datetimes)."""
    if value is None:
        return None
    typ = _base_type(column)
    where = f"{column.table.name}.{column.name}"
    if isinstance(typ, DateTime):
        parsed = None
        if isinstance(value, str):
            try:
                parsed = parse_iso(value)
            except ValueError:
                parsed = None
        if parsed is None:
            raise UsageError(f"plan value for {where} is not an ISO time: {_short(value)}")
        return parsed
    if isinstance(typ, Boolean):
        if not isinstance(value, bool):
            raise UsageError(f"plan value for {where} is not a boolean: {_short(value)}")
        return value
    if isinstance(typ, Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"plan value for {where} is not an integer: {_short(value)}")
        bound = _INT64 if isinstance(typ, BigInteger) else _INT32
        if not -bound <= value < bound:
            raise UsageError(f"plan value for {where} is out of range for the column: {_short(value)}")
        return value
    if isinstance(typ, LargeBinary):
        raise UsageError(f"{where} is binary: the change guard does not change binary columns")
    if isinstance(typ, Uuid):
        if not isinstance(value, str) or not _is_uuid(value):
            raise UsageError(f"plan value for {where} is not a UUID: {_short(value)}")
        return value
    if isinstance(typ, String):  # String(n), and Text (a String without a length)
        if not isinstance(value, str):
            raise UsageError(f"plan value for {where} is not a string: {_short(value)}")
        if "\x00" in value:
            raise UsageError(f"plan value for {where} contains a NUL character")
        if typ.length is not None and len(value) > typ.length:
            raise UsageError(
                f"plan value for {where} is longer than the column allows ({len(value)} > {typ.length} characters)"
            )
        return value
    raise UsageError(f"{where} has a type the change guard does not change ({type(typ).__name__})")


def _base_type(column: Column[Any]) -> Any:
    typ: Any = column.type
    return typ.impl_instance if isinstance(typ, TypeDecorator) else typ


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
