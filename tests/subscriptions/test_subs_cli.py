"""`proaudit subscriptions ...` in-process against the sandbox: exit codes, output, the JSON envelope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner


def proaudit(*args: str) -> tuple[int, str, str]:
    from proaudit_ops.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def envelope(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = proaudit("--json", *args)
    return code, json.loads(out)


def test_the_group_is_listed_and_has_help() -> None:
    code, out, _ = proaudit("--help")
    assert code == 0 and "subscriptions" in out
    code, out, _ = proaudit("subscriptions", "--help")
    assert code == 0
    for command in ("show", "list", "activate", "convert-trial", "extend", "set-tier", "cancel"):
        assert command in out


def test_list_expiring_and_show() -> None:
    code, out, _ = proaudit("subscriptions", "list", "--state", "expiring", "--within", "7d")
    assert code == 0 and "Yola Water Services" in out and "Adaeze" not in out
    code, env = envelope("subscriptions", "show", "PSK-ELIGIBLE-0001")
    assert code == 0
    assert (env["data"]["organization"]["name"], env["data"]["state"]) == ("Eko Bakery Ltd", "active")
    assert env["data"]["payments"][0]["reference"] == "PSK-ELIGIBLE-0001"
    code, out, _ = proaudit("subscriptions", "show", "Nnamdi & Sons Hardware")
    assert code == 0 and "dunning" in out and "Insufficient Funds" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "Nobody Ltd"], "no organization with the id, name or payment reference"),
        (["list", "--state", "paused"], "unknown state"),
        (["list", "--within", "soon"], "not a duration"),
        (["activate", "Eko Bakery Ltd", "--tier", "gold", "--cycle", "monthly", "--yes"], "unknown tier"),
        (["activate", "Eko Bakery Ltd", "--tier", "core", "--cycle", "weekly", "--yes"], "unknown billing cycle"),
        (["activate", "Eko Bakery Ltd", "--tier", "core", "--cycle", "monthly", "--from", "31/01"], "not a date"),
        (["extend", "Yola Water Services", "--days", "61", "--reason", "x", "--yes"], "between 1 and 60"),
        (["extend", "Yola Water Services", "--days", "3", "--yes"], "needs --reason"),
        (["cancel", "Eko Bakery Ltd", "--reason", "x", "--yes"], "only --at-period-end"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(args: list[str], message: str) -> None:
    code, out, err = proaudit("subscriptions", *args)
    assert code == 2, out + err
    assert message in out + err


def test_activate_is_refused_then_covered_after_the_payment_fix() -> None:
    activate = ("subscriptions", "activate", "Bluewave Logistics", "--tier", "professional", "--cycle", "monthly")
    code, _, err = proaudit(*activate, "--yes")
    assert code == 4
    assert "no successful payment of Bluewave Logistics covers professional monthly" in err
    # The payment fix entitles the customer in the same plan (issue 7): activate then has nothing left to do.
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")[0] == 0
    code, out, _ = proaudit(*activate, "--yes")
    assert code == 0, out
    assert "paid by PSK-STUCK-0001" in out and "nothing to change" in out
    code, env = envelope("subscriptions", "show", "PSK-STUCK-0001")
    assert env["data"]["state"] == "active"
    assert [r["action"] for r in env["data"]["audit"] if r["outcome"] == "applied"] == ["payments.fix"]


def test_changes_with_reasons_and_a_saved_plan(tmp_path: Path) -> None:
    code, env = envelope("subscriptions", "extend", "Yola Water Services", "--days", "3", "--reason", "outage", "--yes")
    assert code == 0
    data = env["data"]
    assert (data["outcome"], data["state_after"]) == ("applied", "active")
    assert data["after"]["current_period_end"] > data["before"]["current_period_end"]

    plan = tmp_path / "cancel.json"
    code, out, _ = proaudit(
        "subscriptions", "cancel", "Eko Bakery Ltd", "--at-period-end", "--reason", "closing", "--plan-out", str(plan)
    )
    assert code == 0 and plan.exists()
    untouched = envelope("subscriptions", "show", "Eko Bakery Ltd")[1]["data"]["subscription"]
    assert untouched["cancel_at_period_end"] is False
    code, out, _ = proaudit("apply", str(plan), "--yes")
    assert code == 0, out
    shown = envelope("subscriptions", "show", "Eko Bakery Ltd")[1]["data"]["subscription"]
    assert (shown["cancel_at_period_end"], shown["cancellation_reason"]) == (True, "closing")

    code, out, _ = proaudit("subscriptions", "set-tier", "Eko Bakery Ltd", "enterprise", "--reason", "upsell", "--yes")
    assert code == 0 and "enterprise" in out
    code, _, err = proaudit("subscriptions", "convert-trial", "Eko Bakery Ltd", "--reason", "x", "--yes")
    assert code == 4 and "not a trial" in err
