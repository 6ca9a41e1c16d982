"""`monitor rules`: the runbook's two alerts verbatim plus proaudit's own, checked and unit-tested by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from monitor_helpers import need_binary

from proaudit_ops import metric_names
from proaudit_ops.core.monitor.rules import rule_file_text

HERE = Path(__file__).resolve().parent
RUNBOOK = HERE.parent / "data" / "billing-incident-runbook.md"


def rules_by_alert(text: str) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(text)
    return {rule["alert"]: rule for group in doc["groups"] for rule in group["rules"]}


def squash(expr: str) -> str:
    return " ".join(expr.split())


def test_the_runbooks_two_rules_are_written_as_the_runbook_has_them() -> None:
    block = re.search(r"```yaml\n(# Prometheus alert rules\n.*?)```", RUNBOOK.read_text(), re.S)
    assert block is not None, "the runbook's Alert Configuration block"
    theirs = rules_by_alert(block.group(1))
    ours = rules_by_alert(rule_file_text())
    assert set(theirs) == {"PaymentSuccessRateLow", "WebhookProcessingDelayed"}
    for alert, rule in theirs.items():
        mine = ours[alert]
        assert squash(mine["expr"]) == squash(rule["expr"])
        assert (mine["for"], mine["labels"], mine["annotations"]) == (rule["for"], rule["labels"], rule["annotations"])


def test_proaudits_rules_read_the_shared_metric_names() -> None:
    ours = rules_by_alert(rule_file_text())
    assert squash(ours["ProauditReconcileDrift"]["expr"]) == "sum by (category) (proaudit_reconcile_drift_count) > 0"
    assert squash(ours["ProauditReconcileNotRun"]["expr"]) == (
        "time() - proaudit_reconcile_last_success_timestamp_seconds > 26 * 3600"
    )
    assert squash(ours["ProauditIntentsUnknown"]["expr"]) == "proaudit_intents_unknown > 0"
    assert squash(ours["ProauditMonitorCritical"]["expr"]) == "proaudit_monitor_level == 2"
    # The names other modules import, spelled as agreed (a rename breaks dashboards and these rules).
    assert metric_names.RECONCILE_DRIFT_COUNT == "proaudit_reconcile_drift_count"
    assert metric_names.RECONCILE_DRIFT_AMOUNT == "proaudit_reconcile_drift_amount_subunits"
    assert metric_names.RECONCILE_LAST_SUCCESS == "proaudit_reconcile_last_success_timestamp_seconds"
    assert metric_names.RECONCILE_DURATION == "proaudit_reconcile_duration_seconds"
    assert metric_names.INTENTS_UNKNOWN == "proaudit_intents_unknown"


def test_the_text_is_deterministic_and_every_alert_has_a_severity() -> None:
    text = rule_file_text()
    assert text == rule_file_text()
    assert text.endswith("\n")
    assert not any(line != line.rstrip() for line in text.splitlines())
    for alert, rule in rules_by_alert(text).items():
        assert rule["labels"]["severity"] in ("warning", "critical"), alert
        assert rule["annotations"]["summary"], alert


def test_promtool_checks_the_rule_file(proaudit_cli: Any, tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    out = tmp_path / "rules.yml"
    ran = proaudit_cli("monitor", "rules", "--out", str(out))
    assert ran.exit_code == 0, ran.stderr
    checked = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout + checked.stderr


def test_promtool_unit_tests_fire_and_stay_quiet(proaudit_cli: Any, tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    assert proaudit_cli("monitor", "rules", "--out", str(tmp_path / "rules.yml")).exit_code == 0
    shutil.copyfile(HERE / "rules_test.yml", tmp_path / "rules_test.yml")
    tested = subprocess.run(
        [promtool, "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_the_unit_tests_would_catch_a_wrong_threshold(tmp_path: Path) -> None:
    """The promtool tests are not vacuous: a rule file with the runbook's 0.9 changed to 0.7 fails them."""
    promtool = need_binary("promtool")
    (tmp_path / "rules.yml").write_text(rule_file_text().replace("< 0.9", "< 0.7"))
    shutil.copyfile(HERE / "rules_test.yml", tmp_path / "rules_test.yml")
    tested = subprocess.run(
        [promtool, "test", "rules", "rules_test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode != 0
    assert "success rate 80% fires after 5m" in tested.stdout + tested.stderr


def test_stdout_is_the_file_byte_for_byte(proaudit_cli: Any) -> None:
    ran = proaudit_cli("monitor", "rules")
    assert ran.exit_code == 0
    assert ran.stdout == rule_file_text()
    assert "sandbox" not in ran.stderr  # offline: no database, no runtime


def test_out_replaces_an_existing_file_atomically(proaudit_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    out.write_text("old rules\n")
    ran = proaudit_cli("--json", "monitor", "rules", "--out", str(out))
    assert ran.exit_code == 0
    assert ran.json()["data"]["path"] == str(out)
    assert out.read_text() == rule_file_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.yml"]  # no temporary file left


@pytest.mark.parametrize(
    ("target", "message"),
    [("folder", "is a directory, not a file"), ("missing/rules.yml", "does not exist")],
)
def test_out_refuses_a_bad_path(proaudit_cli: Any, tmp_path: Path, target: str, message: str) -> None:
    (tmp_path / "folder").mkdir()
    ran = proaudit_cli("monitor", "rules", "--out", str(tmp_path / target))
    assert ran.exit_code == 2
    assert message in ran.stderr
    assert ran.stderr.count("\n") == 1
