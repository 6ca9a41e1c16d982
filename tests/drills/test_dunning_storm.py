"""The dunning storm's set-up as the operator meets it, what a bounded retry-all does to it, and the
two card checks of the score (a card Paystack said not to retry, a card charged twice)."""

from __future__ import annotations

import json
from typing import Any

from drill_helpers import cli, score

from proaudit_ops.core.drills.storm import DO_NOT_RETRY, STORM, storm_org

GATEWAY = [s.name for s in STORM if s.kind == "gateway"]


def _records() -> dict[str, dict[str, Any]]:
    listed = json.loads(cli("--json", "dunning", "list").stdout)["data"]["records"]
    return {str(r["organization"]): r for r in listed}


def test_the_storm_is_many_records_due_at_once_after_gateway_errors() -> None:
    started = cli("drill", "run", "dunning-storm")
    assert started.exit_code == 0, started.stderr
    assert "dunning: 15 records due now" in started.stdout and "Paystack 5xx" in started.stdout
    assert "Payment success rate" in started.stdout and "Failed webhook rate" not in started.stdout
    records = _records()
    for name in GATEWAY:
        r = records[name]
        assert (r["status"], r["attempt_count"]) == ("active", 1)
        assert str(r["last_failure_reason"]).startswith("Paystack HTTP 5"), r
    assert records["Asaba Logistics Hub"]["next_retry_at"] is None  # insufficient funds twice
    assert "cannot be fulfilled" in str(records["Minna Solar Installers"]["last_failure_reason"])
    # The 5xx never reached Paystack: it has no failed attempt for the renewal, only for the regulated card.
    assert "no failed attempt at Paystack" in cli("dunning", "failures", "Abuja Dental Care").stdout
    assert "cannot be fulfilled" in cli("dunning", "failures", "Minna Solar Installers").stdout
    for name in DO_NOT_RETRY:
        ran = cli("dunning", "retry", name, "--dry-run")
        assert ran.exit_code == 4, (name, ran.stdout)


def test_a_bounded_retry_all_recovers_the_storm_and_leaves_the_refused_cards_alone() -> None:
    assert cli("drill", "run", "dunning-storm").exit_code == 0
    ran = cli("dunning", "retry-all", "--concurrency", "4", "--yes")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    records = _records()
    declined = {s.name for s in STORM if s.card_failure == "Declined"}
    for name in GATEWAY:
        expected = ("active", 2) if name in declined else ("recovered", 2)
        assert (records[name]["status"], records[name]["attempt_count"]) == expected, name
    assert (records["Asaba Logistics Hub"]["attempt_count"], records["Minna Solar Installers"]["attempt_count"]) == (
        2,
        1,
    )
    assert records["Sahel Agro Cooperative"]["status"] == "recovered"  # the seeded due record, in the same run


def _charge_again(index: int) -> None:
    """A second charge of one storm card at Paystack (say from the dashboard): what the score must catch."""
    from proaudit_ops.config import load_settings
    from proaudit_ops.runtime import Runtime

    org = storm_org(index, STORM[index])
    with Runtime(load_settings(None, None)) as rt:
        rt.paystack().charge_authorization(
            email=org.email,
            amount=5_000_000,
            authorization_code=org.authorization_code,
            reference="DRILL-SECOND-CHARGE",
            currency="NGN",
            metadata=None,
        )


def test_a_card_charged_twice_costs_the_mark() -> None:
    assert cli("drill", "run", "dunning-storm").exit_code == 0
    for args in (
        ["dunning", "list", "--state", "active"],
        ["recovery", "health"],
        ["dunning", "preview"],
        ["dunning", "retry-all", "--concurrency", "1", "--yes"],
        ["dunning", "status", "Abuja Dental Care"],
    ):
        cli(*args)
    assert score()["failed"] == set()
    _charge_again(0)
    result = score()
    assert result["failed"] == {"no card charged twice"}, result["checks"]
    detail = next(c["detail"] for c in result["checks"] if c["name"] == "no card charged twice")
    assert storm_org(0, STORM[0]).email in detail


def test_a_dry_run_of_one_retry_is_not_a_retry_and_an_unknown_org_is_skipped() -> None:
    assert cli("drill", "run", "dunning-storm").exit_code == 0
    cli("dunning", "retry", "Minna Solar Installers", "--dry-run")
    cli("dunning", "retry", "no such org", "--yes")
    failed = score()["failed"]
    assert "no retry of a card Paystack said not to retry" not in failed
    assert "dunning-storm" in cli("drill", "list").stdout
