"""The runbook's PromQL, and an instant query against Prometheus's HTTP API (GET /api/v1/query).

The expressions are the runbook's alert rules (Monitoring & Alerts) with the comparison taken off:
`monitor check` compares the figure with both thresholds itself, and `monitor rules` puts the
runbook's comparison back. `[5m]` becomes `[$window]`, replaced by --window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import DependencyUnavailable

if TYPE_CHECKING:
    import httpx

# The runbook's PaymentSuccessRateLow, without "< 0.9".
SUCCESS_RATIO = (
    'sum(rate(payment_transactions_total{status="success"}[$window]))\n/ sum(rate(payment_transactions_total[$window]))'
)
# The runbook's WebhookProcessingDelayed, without "> 15".
WEBHOOK_P95 = "histogram_quantile(0.95, rate(webhook_processing_seconds_bucket[$window]))"


def with_window(expr: str, window: str) -> str:
    return expr.replace("$window", window)


class PrometheusUnavailable(DependencyUnavailable):
    code = "prometheus_unavailable"


@dataclass(frozen=True)
class Sample:
    value: float | None  # the highest of the series' values; None: no series, or not a number
    series: int  # how many series answered


def instant_query(client: httpx.Client, base_url: str, expr: str) -> Sample:
    """One instant query; an error answer or an unreachable server is PrometheusUnavailable (exit 3)."""
    import httpx

    try:
        response = client.get(f"{base_url}/api/v1/query", params={"query": expr})
    except httpx.HTTPError as exc:
        raise PrometheusUnavailable(
            f"Prometheus at {base_url} did not answer ({type(exc).__name__})",
            hint="check proaudit_prometheus_url and that Prometheus is up",
        ) from None
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        why = f": {error}" if isinstance(error, str) else f" (HTTP {response.status_code}, not Prometheus's JSON)"
        raise PrometheusUnavailable(
            f"Prometheus at {base_url} refused the query{why}"[:500],
            hint="check the query (proaudit_api_response_query) and proaudit_prometheus_url",
        )
    return _sample(body.get("data"))


def _sample(data: Any) -> Sample:
    """A vector's highest value, or a scalar's. NaN and ±Inf (a rate over nothing) are no data."""
    if not isinstance(data, dict):
        return Sample(None, 0)
    kind, result = data.get("resultType"), data.get("result")
    points: list[Any] = []
    if kind == "vector" and isinstance(result, list):
        points = [item.get("value") for item in result if isinstance(item, dict)]
    elif kind == "scalar":
        points = [result]
    values = []
    for point in points:
        if isinstance(point, list) and len(point) == 2 and isinstance(point[1], str):
            try:
                number = float(point[1])
            except ValueError:
                continue
            if math.isfinite(number):
                values.append(number)
    return Sample(max(values) if values else None, len(points))
