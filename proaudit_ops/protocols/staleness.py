"""Is the row still the row the operator reviewed? And did a statement match the rows it should?

A plan is stale when ANY column of a row it read and showed (`RowChange.before`) differs from
the row re-locked at apply, not only its guard columns: an outside `UPDATE ... SET amount_kobo`
or `refund_reference` between plan and apply refuses the plan. Values compare in their plan
(plain JSON) form, so a datetime read on PostgreSQL or SQLite compares as the same ISO string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proaudit_ops.audit.canonical import plain_json
from proaudit_ops.errors import Refused

if TYPE_CHECKING:
    from proaudit_ops.protocols.plan import RowChange

NEW_PLAN_HINT = "look at the row again and make a new plan"


class RowCountMismatch(Refused):
    """A statement matched other than the expected number of rows: nothing is changed."""


def count_mismatch(table: str, where: str, matched: int, expected: int, *, stale: bool = False) -> RowCountMismatch:
    rows = "row" if matched == 1 else "rows"
    prefix = "stale plan: " if stale else ""
    return RowCountMismatch(
        f"{prefix}{table} where {where} matched {matched} {rows}, expected {expected}: nothing was changed",
        hint="several rows share what should identify one (a missing unique constraint?): "
        "look at them and fix the data by hand"
        if matched > expected
        else NEW_PLAN_HINT,
    )


def refuse_if_stale(change: RowChange, row: dict[str, Any]) -> None:
    """The row must still have its guard values and every column value it had when planned."""
    now = plain_json(row)
    checks: list[tuple[str, Any]] = list(change.guards.items())
    checks += [(name, value) for name, value in change.before.items() if name not in change.guards]
    for name, planned in checks:
        if now.get(name) != planned:
            raise Refused(
                f"stale plan: {change.table} {change.label} changed since it was planned "
                f"({name}: {show(planned)} -> {show(now.get(name))})",
                hint=NEW_PLAN_HINT,
            )


def show(value: Any) -> str:
    return "NULL" if value is None else repr(value) if isinstance(value, str) else str(value)
