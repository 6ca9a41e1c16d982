"""Issue 11 §6: payments started and none completed is what a webhook outage looks like: a finding."""

from __future__ import annotations

from proaudit_ops.core.payments.status import level_for


def test_started_and_none_completed_is_a_finding(proaudit) -> None:
    # In the last 3 h the sandbox has 3 pending payments (2 of them pending for over 15 min) and no completion.
    ran = proaudit("--json", "payments", "status", "--since", "3h")
    assert ran.exit_code == 1, ran.stdout
    data = ran.json()["data"]
    assert data["level"] == "stalled"
    assert data["counts"] == {"pending": 3}
    assert data["stalled_pending"] == 2
    human = proaudit("payments", "status", "--since", "3h")
    assert human.exit_code == 1
    line = " ".join(human.stdout.split())
    assert "3 payments started, none completed in 3h: webhooks may not be arriving" in line, human.stdout


def test_only_fresh_pending_payments_are_not_an_outage(proaudit) -> None:
    # PSK-PENDING-0001 was created 5 minutes ago: the customer may still be paying.
    ran = proaudit("--json", "payments", "status", "--since", "10m")
    assert ran.exit_code == 0
    assert ran.json()["data"]["level"] == "no_data"


def test_levels() -> None:
    assert level_for(None, 95, 90, stalled=True) == "stalled"
    assert level_for(None, 95, 90, stalled=False) == "no_data"
    assert level_for(99.0, 95, 90, stalled=False) == "ok"
    assert level_for(80.0, 95, 90, stalled=False) == "critical"
