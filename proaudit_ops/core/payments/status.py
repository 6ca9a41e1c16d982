"""`payments status`: counts by status (the runbook's query) and the success-rate thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from proaudit_ops.errors import ExitCode
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class StatusResult:
    since: datetime
    counts: dict[str, int]
    total: int  # all payments in the window, pending included
    success_rate_pct: float | None  # a ratio for display, not money
    level: str  # ok | warning | critical | no_data
    warning_below_pct: int
    critical_below_pct: int

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDING if self.level in ("warning", "critical") else ExitCode.OK


def level_for(rate_pct: float | None, warning: int, critical: int) -> str:
    if rate_pct is None:
        return "no_data"
    if rate_pct < critical:
        return "critical"
    if rate_pct < warning:
        return "warning"
    return "ok"


def payment_status(runtime: Runtime, since: timedelta) -> StatusResult:
    from sqlalchemy import func, select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt

    start = utcnow() - since
    # The runbook's query: SELECT COUNT(*), status ... WHERE created_at > NOW() - INTERVAL ... GROUP BY status
    query = select(pt.c.status, func.count()).where(pt.c.created_at > start).group_by(pt.c.status)
    with read_only(runtime.engine()) as conn:
        counts = {status: int(n) for status, n in conn.execute(query).all()}
    total = sum(counts.values())
    # The runbook's alert is success / all; payments still pending have not succeeded or failed
    # yet, so they are shown but left out of the rate (a quiet hour must not look critical).
    decided = total - counts.get("pending", 0)
    rate = round(100.0 * counts.get("success", 0) / decided, 2) if decided else None
    s = runtime.settings
    warning, critical = s.proaudit_success_rate_warning_pct, s.proaudit_success_rate_critical_pct
    return StatusResult(
        since=start,
        counts=dict(sorted(counts.items())),
        total=total,
        success_rate_pct=rate,
        level=level_for(rate, warning, critical),
        warning_below_pct=warning,
        critical_below_pct=critical,
    )
