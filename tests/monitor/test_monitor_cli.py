"""`proaudit monitor check` on the sandbox: the table, --json, --metrics (Prometheus text) and the exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from proaudit_ops import metric_names as names


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_a_quiet_five_minutes_on_the_sandbox_is_ok(proaudit_cli: Any) -> None:
    ran = proaudit_cli("monitor", "check")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    text = " ".join(ran.stdout.split())
    assert "Payment success rate" in text
    assert "Dunning conversion rate │ 50.00% │ ok" in text  # the seeded cycles: one recovered, one exhausted
    assert "overall: ok (exit 0)" in text


def test_the_seeded_outage_over_a_day_is_critical(proaudit_cli: Any) -> None:
    ran = proaudit_cli("--json", "monitor", "check", "--window", "24h")
    assert ran.exit_code == 1
    envelope = ran.json()
    assert (envelope["command"], envelope["exit_code"]) == ("monitor check", 1)
    metrics = {m["name"]: m for m in envelope["data"]["metrics"]}
    payment = metrics["payment_success_rate"]
    assert payment["level"] == "critical"  # payments/status.py's `stalled`: started, none completed
    assert "none completed in 1d: webhooks may not be arriving" in payment["detail"]
    assert metrics["webhook_failed_rate"]["level"] == "critical"
    human = proaudit_cli("monitor", "check", "--window", "24h")
    assert human.exit_code == 1
    assert "next: proaudit payments status --since 1h" in human.stdout


def test_metrics_file_is_prometheus_text(proaudit_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "proaudit_monitor.prom"
    ran = proaudit_cli("monitor", "check", "--window", "30d", "--metrics", str(out))
    assert ran.exit_code == 1
    assert f"metrics written to {out}" in ran.stdout
    got = samples(out)
    level = {dict(labels)["metric"]: value for (name, labels), value in got.items() if name == names.MONITOR_LEVEL}
    assert level == {
        "payment_success_rate": 2.0,
        "webhook_processing_p95": 2.0,  # PSK-WEBHOOK-0001: received days ago, never processed
        "webhook_failed_rate": 2.0,
        "dunning_conversion_rate": 0.0,
    }  # the API row is skipped (no Prometheus): no level written for it
    assert got[(names.MONITOR_PAYMENT_SUCCESS_RATIO, ())] == 0.6111  # 11 of 18 decided (Kano and Enugu failed renewals)
    assert got[(names.MONITOR_DUNNING_CONVERSION_RATIO, ())] == 0.5
    assert got[(names.MONITOR_WEBHOOK_P95, ())] > 86_400  # the unprocessed event counts with its age
    assert (names.MONITOR_API_RESPONSE_P95, ()) not in got  # no data: no series
    assert got[(names.MONITOR_LAST_RUN, ())] > 1.7e9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proaudit_monitor.prom"]  # renamed into place


def test_no_data_writes_levels_but_no_values(proaudit_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "m.prom"
    assert proaudit_cli("monitor", "check", "--window", "1m", "--metrics", str(out)).exit_code == 0
    got = samples(out)
    assert (names.MONITOR_PAYMENT_SUCCESS_RATIO, ()) not in got
    assert got[(names.MONITOR_LEVEL, (("metric", "payment_success_rate"),))] == 0.0


def test_a_bad_metrics_path_is_refused_before_anything_runs(proaudit_cli: Any, tmp_path: Path) -> None:
    ran = proaudit_cli("monitor", "check", "--metrics", str(tmp_path / "nope" / "m.prom"))
    assert ran.exit_code == 2
    assert ran.stderr.strip().splitlines()[-1].startswith("error: --metrics ")
    assert "does not exist" in ran.stderr
    assert ran.stdout == ""


def test_a_bad_window_is_a_usage_error(proaudit_cli: Any) -> None:
    ran = proaudit_cli("monitor", "check", "--window", "5 minutes")
    assert ran.exit_code == 2
    assert "--window" in ran.stderr


def test_a_threshold_pair_the_wrong_way_round_is_refused_at_load(proaudit_cli: Any) -> None:
    env = {"PROAUDIT_WEBHOOK_TIME_WARNING_SECONDS": "20", "PROAUDIT_WEBHOOK_TIME_CRITICAL_SECONDS": "15"}
    ran = proaudit_cli("monitor", "check", env=env)
    assert ran.exit_code == 2
    assert "must not be below" in ran.stderr
    assert "PROAUDIT_WEBHOOK_TIME_CRITICAL_SECONDS" in ran.stderr


def test_an_api_query_without_the_window_is_refused_at_load(proaudit_cli: Any) -> None:
    ran = proaudit_cli("monitor", "check", env={"PROAUDIT_API_RESPONSE_QUERY": "up"})
    assert ran.exit_code == 2
    assert "must contain $window" in ran.stderr
