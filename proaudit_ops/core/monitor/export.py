"""`monitor check --metrics FILE`: the figures in Prometheus text format for node_exporter's textfile collector.

Written through proaudit_ops.metrics.write_textfile (a temporary file beside the target, then a
rename): the collector never reads half a file. The same writer serves `reconcile --metrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from proaudit_ops import metric_names as names
from proaudit_ops.core.monitor.levels import SEVERITY
from proaudit_ops.errors import UsageError

if TYPE_CHECKING:
    from proaudit_ops.core.monitor.check import CheckResult

# metric name -> (gauge, help, factor from the shown unit to the gauge's base unit)
VALUE_GAUGES: dict[str, tuple[str, str, float]] = {
    "payment_success_rate": (names.MONITOR_PAYMENT_SUCCESS_RATIO, "Successful among decided payments, 0-1.", 0.01),
    "webhook_processing_p95": (names.MONITOR_WEBHOOK_P95, "Webhook received -> processed, p95, seconds.", 1.0),
    "webhook_failed_rate": (names.MONITOR_WEBHOOK_FAILED_RATIO, "Failed among received webhooks, 0-1.", 0.01),
    "dunning_conversion_rate": (names.MONITOR_DUNNING_CONVERSION_RATIO, "Recovered among closed dunning, 0-1.", 0.01),
    "api_response_p95": (names.MONITOR_API_RESPONSE_P95, "Billing API response time p95, seconds.", 0.001),
}
# Levels that say something about the metric; skipped and unavailable write no level (an absent series).
LEVELS_WRITTEN = ("ok", "warning", "critical", "no_data", "pending")


def write_metrics(result: CheckResult, path: Path) -> Path:
    from prometheus_client import Gauge

    from proaudit_ops.metrics import new_registry, write_textfile

    registry = new_registry()
    level = Gauge(
        names.MONITOR_LEVEL,
        "monitor check level: 0 ok or no data, 1 warning, 2 critical.",
        ["metric"],
        registry=registry,
    )
    for metric in result.metrics:
        if metric.level in LEVELS_WRITTEN:
            level.labels(metric=metric.name).set(SEVERITY.get(metric.level, 0))
        spec = VALUE_GAUGES.get(metric.name)
        if spec is not None and metric.value is not None:
            gauge_name, help_text, factor = spec
            Gauge(gauge_name, help_text, registry=registry).set(round(metric.value * factor, 6))
    Gauge(names.MONITOR_LAST_RUN, "When monitor check ran, unix time.", registry=registry).set(
        result.checked_at.timestamp()
    )
    try:
        return write_textfile(path, registry)
    except OSError as exc:
        raise UsageError(f"cannot write --metrics {str(path)!r}: {exc.strerror or exc}") from None
