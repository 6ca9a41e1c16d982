"""A Plan as the operator reviews it: per row, the changed columns before -> after.

Money columns (`*_kobo`) show both forms, `15000000 kobo = ₦150,000.00`, in the row's currency.
rich is imported inside the functions (`proaudit --help` must stay light).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.timeutil import iso

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from proaudit_ops.cli.render import Grid
    from proaudit_ops.protocols.plan import Plan, RowChange


def cell(column: str, value: Any, currency: str | None) -> str:
    """One value as the diff shows it."""
    from proaudit_ops.money import describe_amount

    if value is None:
        return "NULL"
    if column.endswith("_kobo") and isinstance(value, int) and not isinstance(value, bool):
        return describe_amount(value, currency or "NGN")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value) or str(value)
    return str(value)


def row_currency(change: RowChange) -> str | None:
    for source in (change.new_values, change.before):
        value = source.get("currency")
        if isinstance(value, str) and value:
            return value
    return None


def guard_text(change: RowChange) -> str:
    parts = [f"{name} = {cell(name, value, row_currency(change))}" for name, value in change.guards.items()]
    if change.insert:  # a new row: its guards are values no row may have yet
        return "new row: none with " + " or ".join(parts) if parts else "new row"
    return " and ".join(parts) or "—"


def plan_table(plan: Plan) -> Grid:
    from proaudit_ops.cli.render import ESSENTIAL, Col, Grid

    rows = plan.expected_rows
    tables = ", ".join(sorted({c.table for c in plan.changes})) or "—"
    table = Grid(
        [
            Col("row", ESSENTIAL),
            Col("column"),
            Col("before", ESSENTIAL),
            Col("after", ESSENTIAL),
            Col("only if still", ESSENTIAL),
        ],
        title=f"plan {plan.action}: {rows} row(s) in {tables}",
        caption=f"plan {plan.plan_hash[:12]} · {plan.reason}",
    )
    for change in plan.changes:
        currency = row_currency(change)
        first = True
        for name, new in change.new_values.items():
            old = change.before.get(name)
            table.add_row(
                f"{change.table} {change.label}" if first else "",
                name,
                cell(name, old, currency),
                cell(name, new, currency) + ("" if old != new else " (unchanged)"),
                guard_text(change) if first else "",
            )
            first = False
        for name in change.touch:  # set to the time of apply, not a value in the plan
            table.add_row("", name, cell(name, change.before.get(name), currency), "now", "")
        table.add_section()
    return table


def after_table(changes: Sequence[RowChange], rows: list[dict[str, Any]]) -> Grid:
    """The changed columns as the UPDATE returned them: the state the fix left behind."""
    from proaudit_ops.cli.render import ESSENTIAL, Col, Grid

    table = Grid(
        [Col("row", ESSENTIAL), Col("column"), Col("now", ESSENTIAL)],
        title=f"after the change: {len(rows)} row(s) as the database returned them",
    )
    for change, row in zip(changes, rows, strict=False):
        currency = row.get("currency") if isinstance(row.get("currency"), str) else row_currency(change)
        first = True
        for name in change.new_values:
            table.add_row(f"{change.table} {change.label}" if first else "", name, cell(name, row.get(name), currency))
            first = False
        table.add_section()
    return table


def render_plan(plan: Plan, console: Console | None = None) -> None:
    from proaudit_ops.cli import render

    out = console or render.console()
    if plan.external is not None:  # the Paystack call comes first: the rows record its result
        out.print(external_text(plan), markup=False)
    out.print(plan_table(plan))


def external_text(plan: Plan) -> str:
    """`first: POST /refund transaction=… amount=5000000 kobo = ₦50,000.00`, and what records it."""
    from proaudit_ops.money import describe_amount

    step = plan.external
    assert step is not None
    call = step.call
    raw = call.get("body")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    currency = str(body.get("currency") or "NGN")
    parts = []
    for name, value in body.items():
        shown = describe_amount(value, currency) if name == "amount" and isinstance(value, int) else value
        parts.append(f"{name}={shown}")
    lines = [f"first, at Paystack: {call.get('method')} {call.get('path')} " + " ".join(parts)]
    lines.append(f"  intent {step.op_key} (recorded before the call; a lost answer is resumed, never re-sent)")
    if step.fills:
        lines.append(f"  then the rows below, with {', '.join(step.fills)} = Paystack's refund id")
    if step.needs_approval:
        lines.append("  needs a second operator: proaudit approve PLAN, then proaudit apply PLAN")
    return "\n".join(lines)
