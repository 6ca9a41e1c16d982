"""One key metric's figure and its level against the runbook's warning and critical thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# ok | warning | critical: the figure against the thresholds. no_data: nothing in the window.
# pending: payments started, none completed yet, all too young to call stuck. skipped: not
# configured (no Prometheus URL). unavailable: the source could not be asked (Prometheus down).
Level = Literal["ok", "warning", "critical", "no_data", "pending", "skipped", "unavailable"]
Side = Literal["below", "above"]  # which side of a threshold is bad
SEVERITY: dict[str, int] = {"warning": 1, "critical": 2}  # the proaudit_monitor_level gauge; others 0


@dataclass(frozen=True)
class KeyMetric:
    name: str  # stable id: the `metric` label of proaudit_monitor_level and the JSON key
    label: str  # the runbook's name for it
    source: str  # database | prometheus
    value: float | None  # in `unit`; None without data
    unit: str  # % | s | ms
    level: Level
    bad_when: Side
    warning: float
    critical: float
    window: str  # the window the figure covers, e.g. "5m"
    sample: int | None = None  # rows the figure is computed over (database metrics)
    detail: str | None = None  # what the level means, in one line


def breach(value: float, warning: float, critical: float, bad_when: Side) -> Level:
    """The level of a figure; a value equal to a threshold has not crossed it (the runbook: "< 95%")."""
    if bad_when == "below":
        return "critical" if value < critical else "warning" if value < warning else "ok"
    return "critical" if value > critical else "warning" if value > warning else "ok"


def nearest_rank(values: list[float], quantile: float) -> float:
    """The nearest-rank quantile of a non-empty list (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-round(quantile * 1000) * len(ordered) // 1000))  # ceil(q * n), exact for q in 0.001s
    return ordered[min(rank, len(ordered)) - 1]
