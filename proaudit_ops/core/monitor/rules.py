"""`monitor rules`: the runbook's two alert rules and the ones this tool's metrics need, as a Prometheus rule file.

The text is generated here, not by a YAML library: the same input gives the same bytes, so a
rule file kept in a repository only changes when the rules do. Strings are written as JSON strings
(valid YAML double-quoted scalars), expressions as literal blocks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from proaudit_ops import metric_names as names
from proaudit_ops.core.monitor import promql
from proaudit_ops.errors import UsageError


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_: str | None
    severity: str
    summary: str
    description: str | None = None


RUNBOOK_GROUP = "billing"
PROAUDIT_GROUP = "proaudit"
NOT_RUN_HOURS = 26  # a nightly reconcile that missed one night, with two hours' grace

RUNBOOK_RULES = (
    Rule(
        "PaymentSuccessRateLow",
        promql.with_window(promql.SUCCESS_RATIO, "5m") + " < 0.9",
        "5m",
        "critical",
        "Payment success rate below 90%",
    ),
    Rule(
        "WebhookProcessingDelayed",
        promql.with_window(promql.WEBHOOK_P95, "5m") + " > 15",
        "5m",
        "warning",
        "Webhook processing time exceeds 15s",
    ),
)
PROAUDIT_RULES = (
    Rule(
        "ProauditReconcileDrift",
        f"sum by (category) ({names.RECONCILE_DRIFT_COUNT}) > 0",
        None,
        "warning",
        "proaudit reconcile found {{ $labels.category }} drift",
        "Run: proaudit reconcile --since 24h (the references are in its output; --fix for the fixable ones).",
    ),
    Rule(
        "ProauditReconcileNotRun",
        f"time() - {names.RECONCILE_LAST_SUCCESS} > {NOT_RUN_HOURS} * 3600",
        None,
        "warning",
        f"proaudit reconcile has not completed for over {NOT_RUN_HOURS} hours",
        "Check the reconcile cron job and its log; run it by hand: proaudit reconcile --since 24h.",
    ),
    Rule(
        "ProauditReconcileMetricsMissing",
        f"absent({names.RECONCILE_LAST_SUCCESS})",
        f"{NOT_RUN_HOURS}h",
        "warning",
        "No proaudit reconcile metrics for over 26 hours",
        "The textfile collector or Pushgateway has no reconcile metrics: check reconcile --metrics/--push.",
    ),
    Rule(
        "ProauditIntentsUnknown",
        f"{names.INTENTS_UNKNOWN} > 0",
        None,
        "critical",
        "A refund or charge has an unknown outcome",
        "Money may have moved unrecorded: re-check each unknown intent (ops_intents) at Paystack before a retry.",
    ),
    Rule(
        "ProauditMonitorCritical",
        f"{names.MONITOR_LEVEL} == 2",
        None,
        "critical",
        "proaudit monitor check: {{ $labels.metric }} is critical",
        "Run: proaudit monitor check (the runbook's Monitoring & Alerts thresholds).",
    ),
)


@dataclass(frozen=True)
class RulesResult:
    text: str
    alerts: list[str]
    path: str | None = None  # None: the text goes to stdout


def rule_file_text() -> str:
    lines = ["# Prometheus alert rules written by `proaudit monitor rules`; regenerate rather than edit.", "groups:"]
    for group, rules in ((RUNBOOK_GROUP, RUNBOOK_RULES), (PROAUDIT_GROUP, PROAUDIT_RULES)):
        lines += [f"  - name: {group}", "    rules:"]
        for rule in rules:
            lines.append(f"      - alert: {rule.alert}")
            lines.append("        expr: |-")
            lines += [f"          {line.rstrip()}" for line in rule.expr.splitlines()]
            if rule.for_:
                lines.append(f"        for: {rule.for_}")
            lines += ["        labels:", f"          severity: {rule.severity}", "        annotations:"]
            lines.append(f"          summary: {json.dumps(rule.summary)}")
            if rule.description:
                lines.append(f"          description: {json.dumps(rule.description)}")
    return "\n".join(lines) + "\n"


def monitor_rules(out: str | None) -> RulesResult:
    text = rule_file_text()
    alerts = [r.alert for r in (*RUNBOOK_RULES, *PROAUDIT_RULES)]
    if out is None:
        return RulesResult(text, alerts)
    return RulesResult(text, alerts, str(write_atomically(out, text, "--out")))


def write_atomically(out: str, text: str, flag: str) -> Path:
    """A new file in place of the old in one rename: Prometheus reloading mid-write never sees half a file."""
    from proaudit_ops.files import check_output_path

    path = check_output_path(out, flag)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {flag} {str(path)!r}: {exc.strerror or exc}") from None
    return path
