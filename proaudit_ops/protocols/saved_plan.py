"""`proaudit apply FILE`: a plan saved with --plan-out, applied exactly as reviewed.

Order, cheapest and least trusting first: read the file (a regular file, at most MAX_PLAN_BYTES,
bounded JSON nesting), parse its structure, check every value against the schema (exit 2 naming
table.column, before any transaction), check its hash and its MAC (exit 4), then the guard:
the live guard, its `planned` audit record, staleness, apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proaudit_ops.errors import ExitCode, Refused
from proaudit_ops.protocols.guard import ApplyOptions, ChangeGuard, GuardResult
from proaudit_ops.protocols.plan import Plan
from proaudit_ops.protocols.plan_schema import validate_plan


@dataclass(frozen=True)
class SavedPlanResult:
    """What the guard did with the saved plan (and its SQL if asked)."""

    file: Path
    guard: GuardResult
    sql: list[str] | None = None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.guard.outcome == "aborted" else ExitCode.OK


def load_plan_file(guard: ChangeGuard, path: Path) -> Plan:
    """A saved plan: read (bounded), checked against the schema, then authenticated."""
    plan, claims = Plan.from_data(Plan.read_data(path))
    validate_plan(plan)
    try:
        plan.verify(claims, guard.plan_key())
    except Refused as exc:
        guard.record_refusal("apply", exc.message, {"plan_file": str(path)})
        raise
    return plan


def apply_plan_file(
    guard: ChangeGuard,
    path: Path,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    show_sql: bool = False,
) -> SavedPlanResult:
    """Load a plan saved with --plan-out (refused unless authentic), apply it (refused if stale)."""
    plan = load_plan_file(guard, path)
    result = guard.apply_saved(plan, options, confirm)
    sql = guard.plan_sql(plan) if show_sql else None
    return SavedPlanResult(Path(path), result, sql)
