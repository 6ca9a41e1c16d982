"""The billing API's response time and the runbook's own PromQL, against Prometheus's HTTP API.

The answers are the JSON shapes Prometheus documents for GET /api/v1/query (an instant vector, an
empty vector, NaN, an error with errorType), served by httpx.MockTransport.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from proaudit_ops.core.monitor.check import monitor_check

PROM = "http://prometheus.test:9090"
FIVE_MIN = timedelta(minutes=5)


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"job": "billing", "instance": f"app-{i}"}, "value": [1764633600.123, v]} for i, v in
              enumerate(values)]  # fmt: skip
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def prometheus(answer: Callable[[str], tuple[int, Any]], seen: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        assert request.url.path == "/api/v1/query"
        query = request.url.params["query"]
        seen.append(query)
        status, body = answer(query)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handle)


def by_name(result: Any) -> dict[str, Any]:
    return {m.name: m for m in result.metrics}


def test_the_runbooks_promql_and_the_api_query_run_with_the_window(runtime_on: Any) -> None:
    seen: list[str] = []

    def answer(query: str) -> tuple[int, Any]:
        if "http_request_duration_seconds_bucket" in query:
            return 200, vector("0.25", "0.31")  # the slowest instance counts
        if "payment_transactions_total" in query:
            return 200, vector("0.97")
        return 200, vector("4.2")

    runtime = runtime_on(proaudit_prometheus_url=PROM)
    result = monitor_check(runtime, timedelta(minutes=10), prometheus=prometheus(answer, seen))
    assert seen == [
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="billing"}[10m])))',
        'sum(rate(payment_transactions_total{status="success"}[10m]))\n/ sum(rate(payment_transactions_total[10m]))',
        "histogram_quantile(0.95, rate(webhook_processing_seconds_bucket[10m]))",
    ]
    metrics = by_name(result)
    assert (metrics["api_response_p95"].value, metrics["api_response_p95"].level) == (310.0, "ok")
    assert (metrics["prometheus_payment_success_rate"].value, metrics["prometheus_payment_success_rate"].level) == (
        97.0,
        "ok",
    )
    assert metrics["prometheus_webhook_processing_p95"].value == 4.2
    assert result.exit_code == 0


def test_api_response_time_against_500ms_and_2s(runtime_on: Any) -> None:
    for seconds, level, code in (("0.5", "ok", 0), ("0.75", "warning", 0), ("2.5", "critical", 1)):

        def answer(query: str, seconds: str = seconds) -> tuple[int, Any]:
            return 200, vector(seconds) if "http_request" in query else vector()

        result = monitor_check(runtime_on(proaudit_prometheus_url=PROM), FIVE_MIN, prometheus=prometheus(answer, []))
        assert by_name(result)["api_response_p95"].level == level, seconds
        assert result.exit_code == code


def test_no_series_and_nan_are_no_data(runtime_on: Any) -> None:
    def answer(query: str) -> tuple[int, Any]:
        # rate() over no requests is 0/0: Prometheus answers "NaN".
        return 200, vector("NaN") if "http_request" in query else vector()

    result = monitor_check(runtime_on(proaudit_prometheus_url=PROM), FIVE_MIN, prometheus=prometheus(answer, []))
    metrics = by_name(result)
    assert metrics["api_response_p95"].level == "no_data"
    assert metrics["api_response_p95"].detail == "the query's value is not a number"
    assert metrics["prometheus_payment_success_rate"].detail == "the query returned no series"
    assert result.exit_code == 0


def test_a_refused_query_is_unavailable_exit_3(runtime_on: Any) -> None:
    def answer(query: str) -> tuple[int, Any]:
        if "http_request" in query:
            return 400, {"status": "error", "errorType": "bad_data", "error": "1:1: parse error: unexpected <EOF>"}
        return 200, vector("0.99")

    result = monitor_check(runtime_on(proaudit_prometheus_url=PROM), FIVE_MIN, prometheus=prometheus(answer, []))
    metric = by_name(result)["api_response_p95"]
    assert metric.level == "unavailable"
    assert metric.detail == f"Prometheus at {PROM} refused the query: 1:1: parse error: unexpected <EOF>"
    assert result.exit_code == 3


def test_a_critical_finding_outranks_an_unavailable_source(runtime_on: Any) -> None:
    def answer(query: str) -> tuple[int, Any]:
        if "http_request" in query:
            return 503, "Service Unavailable"
        return 200, vector("0.5")  # 50% success: critical

    result = monitor_check(runtime_on(proaudit_prometheus_url=PROM), FIVE_MIN, prometheus=prometheus(answer, []))
    metrics = by_name(result)
    assert (
        metrics["api_response_p95"].detail
        == f"Prometheus at {PROM} refused the query (HTTP 503, not Prometheus's JSON)"
    )
    assert metrics["prometheus_payment_success_rate"].level == "critical"
    assert result.exit_code == 1


def test_an_unreachable_prometheus_is_unavailable(runtime_on: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = monitor_check(runtime_on(proaudit_prometheus_url=PROM), FIVE_MIN, prometheus=httpx.MockTransport(refuse))
    assert {m.level for m in result.metrics if m.source == "prometheus"} == {"unavailable"}
    assert by_name(result)["api_response_p95"].detail == f"Prometheus at {PROM} did not answer (ConnectError)"
    assert result.exit_code == 3
