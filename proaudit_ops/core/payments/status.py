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
    level: str  # ok | warning | critical | stalled | no_data
    warning_below_pct: int
    critical_below_pct: int
    window: str = ""  # the window as typed, e.g. "1h"
    stalled_pending: int = 0  # pending longer than the stuck threshold
    stuck_after: str = ""  # that threshold, e.g. "15m"
    diagnosis: str | None = None  # what the level means, in one line

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDING if self.level in ("warning", "critical", "stalled") else ExitCode.OK


def level_for(rate_pct: float | None, warning: int, critical: int, *, stalled: bool = False) -> str:
    """`stalled`: payments started and none completed, some pending past the stuck threshold."""
    if rate_pct is None:
        return "stalled" if stalled else "no_data"
    if rate_pct < critical:
        return "critical"
    if rate_pct < warning:
        return "warning"
    return "ok"


def describe_window(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def payment_status(runtime: Runtime, since: timedelta) -> StatusResult:
    from sqlalchemy import func, select

    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.timeutil import parse_duration

    now = utcnow()
    start = now - since
    s = runtime.settings
    stuck_after = parse_duration(s.proaudit_stuck_older_than)
    # The runbook's query: SELECT COUNT(*), status ... WHERE created_at > NOW() - INTERVAL ... GROUP BY status
    query = select(pt.c.status, func.count()).where(pt.c.created_at > start).group_by(pt.c.status)
    old_pending = (
        select(func.count())
        .select_from(pt)
        .where(pt.c.created_at > start, pt.c.status == "pending", pt.c.created_at <= now - stuck_after)
    )
    with read_only(runtime.engine()) as conn:
        counts = {status: int(n) for status, n in conn.execute(query).all()}
        stalled_pending = int(conn.execute(old_pending).scalar() or 0)
    total = sum(counts.values())
    # The runbook's alert is success / all; payments still pending have not succeeded or failed
    # yet, so they are shown but left out of the rate (a quiet hour must not look critical).
    decided = total - counts.get("pending", 0)
    rate = round(100.0 * counts.get("success", 0) / decided, 2) if decided else None
    warning, critical = s.proaudit_success_rate_warning_pct, s.proaudit_success_rate_critical_pct
    # Started and none completed, some pending for longer than a payment takes: the shape of a webhook outage
    # (payments complete at Paystack, the app never hears of it). Only fresh pending ones: too early to say.
    level = level_for(rate, warning, critical, stalled=stalled_pending > 0)
    window = describe_window(since)
    diagnosis = None
    if level == "stalled":
        started = counts.get("pending", 0)
        diagnosis = (
            f"{started} payment{'s' if started != 1 else ''} started, none completed in {window}: "
            f"webhooks may not be arriving ({stalled_pending} pending for over "
            f"{describe_window(stuck_after)})"
        )
    return StatusResult(
        since=start,
        counts=dict(sorted(counts.items())),
        total=total,
        success_rate_pct=rate,
        level=level,
        warning_below_pct=warning,
        critical_below_pct=critical,
        window=window,
        stalled_pending=stalled_pending,
        stuck_after=describe_window(stuck_after),
        diagnosis=diagnosis,
    )
