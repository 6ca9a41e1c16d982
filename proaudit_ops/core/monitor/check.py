"""`monitor check`: the runbook's key metrics over a window, each against its warning and critical thresholds.

Exit 1 when any metric is critical (what cron alerts on); a warning is shown and exits 0. When no
metric is critical but a source could not be asked (Prometheus down), exit 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from proaudit_ops.core.monitor.levels import KeyMetric, Level, Side, breach
from proaudit_ops.errors import ExitCode
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    import httpx

    from proaudit_ops.config import Settings
    from proaudit_ops.core.monitor.inbox import InboxFigures
    from proaudit_ops.core.payments.status import StatusResult
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class CheckResult:
    checked_at: datetime
    window: str
    metrics: list[KeyMetric]
    metrics_file: str | None = None  # where --metrics wrote them

    @property
    def level(self) -> str:
        levels = {m.level for m in self.metrics}
        for worst in ("critical", "unavailable", "warning"):
            if worst in levels:
                return worst
        return "ok"

    @property
    def exit_code(self) -> ExitCode:
        levels = {m.level for m in self.metrics}
        if "critical" in levels:
            return ExitCode.FINDING
        if "unavailable" in levels:
            return ExitCode.UNAVAILABLE
        return ExitCode.OK


def monitor_check(runtime: Runtime, window: timedelta, *, prometheus: httpx.BaseTransport | None = None) -> CheckResult:
    """Every key metric; `prometheus` replaces the HTTP transport to Prometheus (tests)."""
    from proaudit_ops.core.monitor.inbox import dunning_figures, inbox_figures
    from proaudit_ops.core.payments.status import describe_window
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.timeutil import parse_duration

    s = runtime.settings
    now = utcnow()
    shown = describe_window(window)
    dunning_window = parse_duration(s.proaudit_dunning_window)
    metrics = [_payment_success(runtime, window)]
    with read_only(runtime.engine()) as conn:
        inbox = inbox_figures(conn, now - window, now)
        dunning = dunning_figures(conn, now - dunning_window)
    metrics += _webhook_metrics(s, inbox, shown)
    warn, crit = s.proaudit_dunning_conversion_warning_pct, s.proaudit_dunning_conversion_critical_pct
    rate = dunning.conversion_pct
    metrics.append(
        KeyMetric(
            "dunning_conversion_rate",
            "Dunning conversion rate",
            "database",
            rate,
            "%",
            "no_data" if rate is None else breach(rate, warn, crit, "below"),
            "below",
            warn,
            crit,
            describe_window(dunning_window),
            sample=dunning.closed,
            detail=f"{dunning.recovered} of {dunning.closed} closed dunning cycles recovered"
            if dunning.closed
            else None,
        )
    )
    metrics += _prometheus_metrics(s, shown, prometheus)
    return CheckResult(checked_at=now, window=shown, metrics=metrics)


def _payment_success(runtime: Runtime, window: timedelta) -> KeyMetric:
    """payments/status.py's success rate and level; `stalled` (a webhook outage) is critical here."""
    from proaudit_ops.core.payments.status import payment_status
    from proaudit_ops.timeutil import parse_duration

    status = payment_status(runtime, window)
    stuck_after = parse_duration(runtime.settings.proaudit_stuck_older_than)
    widened = False
    if status.level == "no_data" and status.counts.get("pending") and window < stuck_after:
        # Started and none completed, but a window shorter than the stuck threshold cannot tell a
        # customer still at checkout from an outage: look back far enough for a payment to be stuck.
        status = payment_status(runtime, window + stuck_after)
        widened = True
    return _payment_metric(status, widened)


def _payment_metric(status: StatusResult, widened: bool) -> KeyMetric:
    level: Level
    detail = status.diagnosis
    pending = status.counts.get("pending", 0)
    if status.level == "stalled":
        level = "critical"
    elif status.level == "no_data" and pending:
        level = "pending"
        detail = f"{pending} started, none completed yet: none pending longer than {status.stuck_after}"
    elif status.level in ("ok", "warning", "critical", "no_data"):
        level = status.level  # type: ignore[assignment]
    else:  # a level payments/status.py adds later: shown, and never silently "ok"
        level = "warning"
    if detail is None and status.success_rate_pct is not None:
        decided = status.total - pending
        detail = f"{status.counts.get('success', 0)} of {decided} decided payments succeeded"
        detail += f"; {pending} pending" if pending else ""
    if widened and detail is None:
        detail = f"no payment completed in the window; looked back {status.window}"
    return KeyMetric(
        "payment_success_rate",
        "Payment success rate",
        "database",
        status.success_rate_pct,
        "%",
        level,
        "below",
        status.warning_below_pct,
        status.critical_below_pct,
        status.window,
        sample=status.total,
        detail=detail,
    )


def _webhook_metrics(s: Settings, inbox: InboxFigures, window: str) -> list[KeyMetric]:
    warn_s, crit_s = s.proaudit_webhook_time_warning_seconds, s.proaudit_webhook_time_critical_seconds
    p95 = inbox.p95_seconds
    waiting = f"; {inbox.waiting} not processed yet (counted with their age)" if inbox.waiting else ""
    time_metric = KeyMetric(
        "webhook_processing_p95",
        "Webhook processing time (p95)",
        "database",
        p95,
        "s",
        "no_data" if p95 is None else breach(p95, warn_s, crit_s, "above"),
        "above",
        warn_s,
        crit_s,
        window,
        sample=inbox.received - inbox.failed,
        detail=f"received -> processed{waiting}" if p95 is not None else None,
    )
    warn_f, crit_f = s.proaudit_failed_webhook_warning_pct, s.proaudit_failed_webhook_critical_pct
    failed = round(100.0 * inbox.failed / inbox.received, 2) if inbox.received else None
    failed_metric = KeyMetric(
        "webhook_failed_rate",
        "Failed webhook rate",
        "database",
        failed,
        "%",
        "no_data" if failed is None else breach(failed, warn_f, crit_f, "above"),
        "above",
        warn_f,
        crit_f,
        window,
        sample=inbox.received,
        detail=f"{inbox.failed} of {inbox.received} received failed" if inbox.received else None,
    )
    return [time_metric, failed_metric]


@dataclass(frozen=True)
class _Query:
    name: str
    label: str
    expr: str
    unit: str
    scale: float  # the query's result (seconds, a ratio) -> `unit`
    bad_when: Side
    warning: float
    critical: float

    def metric(self, window: str, value: float | None, level: Level, detail: str | None) -> KeyMetric:
        return KeyMetric(
            self.name, self.label, "prometheus", value, self.unit, level, self.bad_when,
            self.warning, self.critical, window, detail=detail,
        )  # fmt: skip


def _prometheus_metrics(s: Settings, window: str, transport: httpx.BaseTransport | None) -> list[KeyMetric]:
    """The billing API's response time, and the runbook's own two alert queries, when Prometheus is set."""
    from proaudit_ops.core.monitor import promql

    api = _Query(
        "api_response_p95", "API response time (billing, p95)", s.proaudit_api_response_query, "ms", 1000.0,
        "above", s.proaudit_api_response_warning_ms, s.proaudit_api_response_critical_ms,
    )  # fmt: skip
    base = s.proaudit_prometheus_url
    if base is None:
        return [api.metric(window, None, "skipped", "no Prometheus configured")]
    queries = (
        api,
        _Query(
            "prometheus_payment_success_rate", "Payment success rate (app metrics)", promql.SUCCESS_RATIO, "%",
            100.0, "below", s.proaudit_success_rate_warning_pct, s.proaudit_success_rate_critical_pct,
        ),
        _Query(
            "prometheus_webhook_processing_p95", "Webhook processing time (app metrics, p95)", promql.WEBHOOK_P95,
            "s", 1.0, "above", s.proaudit_webhook_time_warning_seconds, s.proaudit_webhook_time_critical_seconds,
        ),
    )  # fmt: skip
    import httpx

    out: list[KeyMetric] = []
    with httpx.Client(timeout=s.proaudit_prometheus_timeout_seconds, transport=transport) as client:
        for q in queries:
            try:
                sample = promql.instant_query(client, base, promql.with_window(q.expr, window))
            except promql.PrometheusUnavailable as exc:
                out.append(q.metric(window, None, "unavailable", exc.message))
                continue
            if sample.value is None:
                why = "the query returned no series" if not sample.series else "the query's value is not a number"
                out.append(q.metric(window, None, "no_data", why))
                continue
            value = round(sample.value * q.scale, 3)
            out.append(q.metric(window, value, breach(value, q.warning, q.critical, q.bad_when), None))
    return out
