"""`proaudit drill ...` in-process on the sandbox: each drill start to finish, a good operator's session
scores full marks, a careless one's does not, and the start is refused like `sandbox reset`."""

from __future__ import annotations

import json

import pytest
from drill_helpers import cli, score

from proaudit_ops.core.drills.scenarios import DRILLS

REPLICA = "postgresql://billing@127.0.0.1:1/billing"


GOOD: dict[str, list[list[str]]] = {
    "webhook-outage": [
        ["monitor", "check"],
        ["payments", "stuck", "--verify"],
        ["payments", "stuck", "--fix", "--dry-run"],
        ["payments", "stuck", "--fix", "--yes"],
        ["payments", "stuck"],
    ],
    "double-refund": [
        ["refunds", "check", "PSK-ELIGIBLE-0001"],
        ["refunds", "issue", "PSK-ELIGIBLE-0001", "--reason", "downgrade to core", "--dry-run"],
        ["refunds", "issue", "PSK-ELIGIBLE-0001", "--reason", "downgrade to core", "--yes"],
        ["refunds", "status", "PSK-ELIGIBLE-0001"],
    ],
    "db-failover": [
        ["recovery", "health"],
        ["recovery", "failover", "--replica", REPLICA, "--dry-run"],
        ["recovery", "health"],
    ],
    "dunning-storm": [
        ["dunning", "list", "--state", "active"],
        ["recovery", "health"],
        ["dunning", "retry-all", "--dry-run"],  # every due charge planned, nothing sent
        ["dunning", "retry-all", "--yes"],  # the default concurrency
        ["dunning", "list", "--state", "active"],
    ],
}

CARELESS: dict[str, tuple[list[list[str]], set[str]]] = {
    "webhook-outage": (
        [
            ["payments", "stuck", "--fix", "--yes"],  # a bulk change before any diagnosis or dry run
            ["payments", "verify", "PSK-AMOUNT-0001", "--fix", "--yes"],
        ],
        {"detected", "fixes verified", "dry run before every bulk --yes", "no fix of an amount mismatch"},
    ),
    "double-refund": (
        [
            ["refunds", "issue", "PSK-ELIGIBLE-0001", "--reason", "downgrade to core", "--yes"],
            ["refunds", "issue", "PSK-ELIGIBLE-0001", "--reason", "downgrade to core", "--yes"],  # bob's ticket
        ],
        {"detected", "fixes verified", "no refund twice"},
    ),
    "db-failover": (
        [["recovery", "failover", "--replica", REPLICA, "--yes"]],
        {"detected", "ran recovery health", "ran recovery failover --dry-run", "dry run before every bulk --yes"},
    ),
    "dunning-storm": (
        [
            ["dunning", "retry-all", "--yes"],  # every due card charged before looking, no dry run, no check after
            ["dunning", "retry", "minna", "--yes", "--force"],  # a regulated card (refused, exit 4: still unsafe)
        ],
        {
            "detected",
            "fixes verified",
            "ran recovery health before the first fix",
            "dry run before every bulk --yes",
            "no retry of a card Paystack said not to retry",
        },
    ),
}


def test_every_drill_has_a_good_and_a_careless_session() -> None:
    assert set(GOOD) == set(DRILLS) == set(CARELESS)


@pytest.mark.parametrize("name", sorted(DRILLS))
def test_a_good_operator_scores_full_marks(name: str) -> None:
    started = cli("drill", "run", name)
    assert started.exit_code == 0, started.stderr
    assert "symptoms:" in started.stdout and DRILLS[name].title in started.stdout
    for args in GOOD[name]:
        cli(*args)
    result = score()
    assert result["failed"] == set(), result["checks"]
    assert result["exit"] == 0 and result["name"] == name
    assert result["time_to_detect_s"] is not None and result["steps"] == len(GOOD[name])
    assert "full marks" in cli("drill", "score").stdout


@pytest.mark.parametrize("name", sorted(DRILLS))
def test_a_careless_operator_does_not(name: str) -> None:
    assert cli("drill", "run", name).exit_code == 0
    steps, expected = CARELESS[name]
    for args in steps:
        cli(*args)
    result = score()
    assert result["exit"] == 1
    assert expected <= result["failed"], result["checks"]
    assert "FAIL" in cli("drill", "score").stdout


def test_run_starts_on_a_fresh_sandbox_and_records_the_start() -> None:
    assert cli("drill", "run", "webhook-outage").exit_code == 0
    cli("payments", "stuck", "--fix", "--dry-run")
    cli("payments", "stuck", "--fix", "--yes")
    assert cli("drill", "run", "webhook-outage").exit_code == 0  # again: the stuck payments are back
    assert "PSK-STUCK-0001" in cli("payments", "stuck").stdout
    records = json.loads(cli("--json", "audit", "log", "--target", "webhook-outage").stdout)["data"]
    assert [r["action"] for r in records["records"]] == ["drill.start"]
    assert score()["steps"] == 2  # only the session since the last start counts (stuck, audit log)
    assert "* webhook-outage" in cli("drill", "list").stdout


def test_run_is_refused_while_the_sandbox_is_in_use() -> None:
    import fcntl

    from proaudit_ops.config import load_settings
    from proaudit_ops.sandbox.home import lock_path

    cli("sandbox", "status")  # creates it
    path = lock_path(load_settings().sandbox_db_path())
    with path.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_SH)  # another proaudit process using the sandbox
        ran = cli("drill", "run", "double-refund")
    assert ran.exit_code == 4 and "in use" in ran.stderr


def test_unknown_drill_and_score_without_a_drill_are_usage_errors() -> None:
    ran = cli("drill", "run", "volcano")
    assert ran.exit_code == 2 and "webhook-outage" in ran.stderr
    ran = cli("drill", "score")
    assert ran.exit_code == 2 and "drill run" in ran.stderr


def test_steps_are_not_recorded_without_a_drill() -> None:
    cli("payments", "stuck")
    records = json.loads(cli("--json", "audit", "log").stdout)["data"]["records"]
    assert not [r for r in records if r["action"].startswith("drill.")]
