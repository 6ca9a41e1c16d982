"""The reconcile run as Prometheus metrics (prometheus_client), for --metrics FILE and --push URL.

Names (the alert rules read them): proaudit_reconcile_drift_count{category},
proaudit_reconcile_drift_amount_subunits{category,currency}, proaudit_reconcile_rows,
proaudit_reconcile_duration_seconds, proaudit_reconcile_last_success_timestamp_seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proaudit_ops import metric_names as names

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from proaudit_ops.core.reconcile.run import ReconcileResult

JOB = "proaudit_reconcile"


def registry_for(result: ReconcileResult) -> CollectorRegistry:
    from prometheus_client import Gauge

    from proaudit_ops.metrics import new_registry

    registry = new_registry()
    count = Gauge(
        names.RECONCILE_DRIFT_COUNT,
        "References in each reconcile category still drifting after the run",
        ["category"],
        registry=registry,
    )
    amount = Gauge(
        names.RECONCILE_DRIFT_AMOUNT,
        "Money at stake in each category (subunits, e.g. kobo), per currency",
        ["category", "currency"],
        registry=registry,
    )
    fixed = set(result.fixed)
    for category in result.categories:
        count.labels(category.name).set(result.remaining(category))
        left: dict[str, int] = dict(category.amounts)
        for ref, (stake, currency) in zip(category.references, category.stakes, strict=True):
            if ref in fixed and category.fixable:
                left[currency] = left.get(currency, 0) - stake
        for currency, value in (left or {"NGN": 0}).items():
            amount.labels(category.name, currency).set(max(0, value))
    Gauge(names.RECONCILE_ROWS, "Paystack rows staged (transactions and refunds)", registry=registry).set(result.rows)
    Gauge(names.RECONCILE_DURATION, "How long the run took", registry=registry).set(result.duration_s)
    last = Gauge(
        names.RECONCILE_LAST_SUCCESS,
        "When reconcile last completed (whatever it found), Unix time",
        registry=registry,
    )
    if result.finished_at is not None:
        last.set(result.finished_at.timestamp())
    return registry
