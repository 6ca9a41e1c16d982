"""`dunning extend ORG --days N --reason`: a grace period through the change guard.

The active record's next retry moves N days later and the subscription's period end moves N days
later (access continues meanwhile), in one guarded plan with the reason in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.dunning.records import find_org, load
from proaudit_ops.errors import ExitCode, Refused, UsageError
from proaudit_ops.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.protocols.guard import ApplyOptions, GuardResult
    from proaudit_ops.protocols.plan import Plan
    from proaudit_ops.runtime import Runtime

ACTION = "dunning.extend"
MAX_DAYS = 60


@dataclass(frozen=True)
class ExtendResult:
    organization: str
    days: int
    guard: GuardResult

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REFUSED if self.guard.outcome == "aborted" else ExitCode.OK


def extend_grace(
    runtime: Runtime,
    who: str,
    days: int,
    reason: str,
    options: ApplyOptions,
    confirm: Callable[[Plan], bool],
    *,
    now: datetime | None = None,
) -> ExtendResult:
    from proaudit_ops.db.engine import read_only

    reason = reason.strip()
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days must be 1-{MAX_DAYS}")
    if not reason or len(reason) > 500 or any(ord(c) < 32 for c in reason):
        raise UsageError("--reason must be 1-500 printable characters on one line")
    now = now or utcnow()
    guard = runtime.guard()
    with read_only(runtime.engine()) as conn:
        state = load(conn, find_org(conn, who))
    record = state.open_record
    if record is None or state.sku is None:
        message = f"{state.org['name']} has no active dunning record: no grace period to extend"
        guard.record_refusal(ACTION, message, {"target": str(state.org["name"])})
        raise Refused(message)
    sku_id = str(state.sku["id"])

    def build(conn: Connection) -> Plan:
        from proaudit_ops.db.schema import dunning_records as d
        from proaudit_ops.db.schema import tenant_skus as ts
        from proaudit_ops.protocols.plan import Plan, RowChange

        row = guard.lock_rows(conn, d, d.c.id == str(record["id"]), expect=1)[0]
        sku = guard.lock_rows(conn, ts, ts.c.id == sku_id, expect=1)[0]
        later = timedelta(days=days)
        retry_at = as_utc(row.get("next_retry_at")) or now
        end = as_utc(sku.get("current_period_end")) or now
        changes: list[RowChange] = [
            RowChange(
                table="dunning_records",
                key={"id": row["id"]},
                guards={"status": "active", "attempt_count": row["attempt_count"]},
                new_values={"next_retry_at": max(retry_at, now) + later},
                before=row,
                label=f"dunning record of {state.org['name']}",
                touch=("updated_at",),
            ),
            RowChange(
                table="tenant_skus",
                key={"id": sku["id"]},
                guards={"organization_id": str(state.org["id"])},
                new_values=_grace(sku, max(end, now) + later),
                before=sku,
                label=f"subscription of {state.org['name']}",
                touch=("updated_at",),
            ),
        ]
        return Plan(action=ACTION, reason=reason, changes=tuple(changes), created_at=now, target=str(state.org["name"]))

    result = guard.execute(build, options, confirm, action=ACTION)
    return ExtendResult(str(state.org["name"]), days, result)


def _grace(sku: dict[str, Any], end: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"current_period_end": end}
    if not sku.get("is_active"):
        values["is_active"] = True
    return values
