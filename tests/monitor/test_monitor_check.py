"""`monitor check` on PostgreSQL and SQLite: each key metric against the runbook's thresholds, and the exit code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from proaudit_ops.core.monitor.check import CheckResult, monitor_check
from proaudit_ops.core.monitor.levels import breach, nearest_rank

M = timedelta(minutes=1)
S = timedelta(seconds=1)
FIVE_MIN = 5 * M


def by_name(result: CheckResult) -> dict[str, Any]:
    return {m.name: m for m in result.metrics}


def test_a_healthy_window_is_ok(billing: Any, runtime_on: Any) -> None:
    for _ in range(19):
        billing.payment("success", 2 * M)
    billing.payment("failed", 2 * M)
    for _ in range(10):
        billing.webhook("processed", 3 * M, took=2 * S)
    for status in ("recovered", "recovered", "recovered", "exhausted", "active"):
        billing.dunning(status, timedelta(days=10))
    result = monitor_check(runtime_on(), FIVE_MIN)
    metrics = by_name(result)
    assert metrics["payment_success_rate"].value == 95.0  # "< 95%" is the warning: 95 itself is ok
    assert metrics["payment_success_rate"].level == "ok"
    assert metrics["webhook_processing_p95"].value == 2.0
    assert metrics["webhook_failed_rate"].value == 0.0
    assert metrics["dunning_conversion_rate"].value == 75.0  # 3 of 4 closed; the active one has not ended
    assert metrics["api_response_p95"].level == "skipped"  # no Prometheus configured
    assert {m.level for m in result.metrics} == {"ok", "skipped"}
    assert result.exit_code == 0


def test_a_warning_is_shown_and_exits_0(billing: Any, runtime_on: Any) -> None:
    for _ in range(23):
        billing.payment("success", 2 * M)
    for _ in range(2):
        billing.payment("failed", 2 * M)
    result = monitor_check(runtime_on(), FIVE_MIN)
    assert by_name(result)["payment_success_rate"].value == 92.0
    assert by_name(result)["payment_success_rate"].level == "warning"
    assert result.level == "warning"
    assert result.exit_code == 0


def test_a_critical_success_rate_exits_1(billing: Any, runtime_on: Any) -> None:
    for status in ("success", "success", "failed", "abandoned"):
        billing.payment(status, 2 * M)
    billing.payment("success", 10 * M)  # outside the 5m window: not counted
    result = monitor_check(runtime_on(), FIVE_MIN)
    assert by_name(result)["payment_success_rate"].value == 50.0
    assert by_name(result)["payment_success_rate"].level == "critical"
    assert result.exit_code == 1


def test_payments_started_and_none_completed_is_critical_not_no_data(billing: Any, runtime_on: Any) -> None:
    """A webhook outage: payments keep starting, none completes. The 5m window alone cannot tell it from a
    customer still at checkout, so the check looks back by the stuck threshold (15m) and finds one stuck."""
    for age in (2 * M, 9 * M, 17 * M):
        billing.payment("pending", age)
    result = monitor_check(runtime_on(), FIVE_MIN)
    payment = by_name(result)["payment_success_rate"]
    assert payment.level == "critical"
    assert payment.window == "20m"
    assert payment.detail is not None
    assert "3 payments started, none completed in 20m: webhooks may not be arriving" in payment.detail
    assert result.exit_code == 1


def test_fresh_pending_payments_alone_are_too_early_to_call(billing: Any, runtime_on: Any) -> None:
    billing.payment("pending", 2 * M)
    billing.payment("pending", 8 * M)
    result = monitor_check(runtime_on(), FIVE_MIN)
    payment = by_name(result)["payment_success_rate"]
    assert payment.level == "pending"
    assert payment.detail == "2 started, none completed yet: none pending longer than 15m"
    assert result.exit_code == 0


def test_completions_just_before_the_window_mean_webhooks_arrive(billing: Any, runtime_on: Any) -> None:
    billing.payment("pending", 2 * M)
    billing.payment("success", 12 * M)
    result = monitor_check(runtime_on(), FIVE_MIN)
    payment = by_name(result)["payment_success_rate"]
    assert (payment.level, payment.value, payment.window) == ("ok", 100.0, "20m")


def test_webhook_processing_p95(billing: Any, runtime_on: Any) -> None:
    for _ in range(19):
        billing.webhook("processed", 2 * M, took=1 * S)
    billing.webhook("processed", 2 * M, took=30 * S)  # one slow event of 20 is the 100th percentile, not the 95th
    assert by_name(monitor_check(runtime_on(), FIVE_MIN))["webhook_processing_p95"].level == "ok"
    billing.webhook("processed", 2 * M, took=8 * S)
    billing.webhook("processed", 2 * M, took=8 * S)
    metric = by_name(monitor_check(runtime_on(), FIVE_MIN))["webhook_processing_p95"]
    assert (metric.value, metric.level) == (8.0, "warning")


def test_an_event_not_yet_processed_counts_with_its_age(billing: Any, runtime_on: Any) -> None:
    billing.webhook("received", 3 * M)  # waiting for 180 s: the inbox is stalled
    metric = by_name(monitor_check(runtime_on(), FIVE_MIN))["webhook_processing_p95"]
    assert metric.level == "critical"
    assert metric.value is not None
    assert metric.value >= 180
    assert metric.detail == "received -> processed; 1 not processed yet (counted with their age)"


def test_failed_webhook_rate(billing: Any, runtime_on: Any) -> None:
    for _ in range(9):
        billing.webhook("processed", 1 * M, took=1 * S)
    billing.webhook("failed", 1 * M)
    billing.webhook("failed", 10 * M)  # outside the window
    metric = by_name(monitor_check(runtime_on(), FIVE_MIN))["webhook_failed_rate"]
    assert (metric.value, metric.level, metric.sample) == (10.0, "warning", 10)  # "> 10%" is critical
    billing.webhook("failed", 1 * M)
    metric = by_name(monitor_check(runtime_on(), FIVE_MIN))["webhook_failed_rate"]
    assert (metric.value, metric.level) == (18.18, "critical")


def test_dunning_conversion_rate(billing: Any, runtime_on: Any) -> None:
    billing.dunning("recovered", timedelta(days=5))
    for _ in range(3):
        billing.dunning("exhausted", timedelta(days=5))
    billing.dunning("recovered", timedelta(days=200))  # before the 90d window
    result = monitor_check(runtime_on(), FIVE_MIN)
    metric = by_name(result)["dunning_conversion_rate"]
    assert (metric.value, metric.level, metric.window) == (25.0, "critical", "90d")
    assert result.exit_code == 1
    wider = by_name(monitor_check(runtime_on(proaudit_dunning_window="365d"), FIVE_MIN))["dunning_conversion_rate"]
    assert (wider.value, wider.level) == (40.0, "warning")


def test_an_empty_window_is_no_data_and_ok(runtime_on: Any) -> None:
    result = monitor_check(runtime_on(), FIVE_MIN)
    assert {m.name: m.level for m in result.metrics} == {
        "payment_success_rate": "no_data",
        "webhook_processing_p95": "no_data",
        "webhook_failed_rate": "no_data",
        "dunning_conversion_rate": "no_data",
        "api_response_p95": "skipped",
    }
    assert result.exit_code == 0


def test_thresholds_are_configurable(billing: Any, runtime_on: Any) -> None:
    billing.webhook("processed", 1 * M, took=2 * S)
    runtime = runtime_on(proaudit_webhook_time_warning_seconds=0.5, proaudit_webhook_time_critical_seconds=1.5)
    metric = by_name(monitor_check(runtime, FIVE_MIN))["webhook_processing_p95"]
    assert (metric.level, metric.warning, metric.critical) == ("critical", 0.5, 1.5)


@pytest.mark.parametrize(
    ("value", "side", "level"),
    [(95.0, "below", "ok"), (94.99, "below", "warning"), (90.0, "below", "warning"), (89.9, "below", "critical"),
     (5.0, "above", "ok"), (5.1, "above", "warning"), (15.0, "above", "warning"), (15.01, "above", "critical")],
)  # fmt: skip
def test_breach_at_the_thresholds(value: float, side: Any, level: str) -> None:
    warning, critical = (95, 90) if side == "below" else (5, 15)
    assert breach(value, warning, critical, side) == level


def test_nearest_rank() -> None:
    assert nearest_rank([3.0], 0.95) == 3.0
    assert nearest_rank([float(n) for n in range(1, 21)], 0.95) == 19.0
    assert nearest_rank([float(n) for n in range(1, 101)], 0.95) == 95.0
    assert nearest_rank([float(n) for n in range(1, 11)], 0.95) == 10.0
