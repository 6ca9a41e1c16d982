"""Issue 11 §2 and §6: `webhooks test` blames a 5xx on the app, not the secret; with a live key the
probe writes to the production inbox, so it goes through the approval gate like any change."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from proaudit_ops.db.schema import webhook_events
from proaudit_ops.sandbox.home import ensure_sandbox


def test_a_5xx_blames_the_app_not_the_secret(proaudit) -> None:
    ran = proaudit("webhooks", "test", env={"PROAUDIT_APP_STATUS": "500"})
    assert ran.exit_code == 1
    text = " ".join(ran.stdout.split())
    assert "the endpoint answered HTTP 500 to a correctly signed event: the app is failing, not the secret" in text
    assert "secret key?" not in text
    data = proaudit("--json", "webhooks", "test", env={"PROAUDIT_APP_STATUS": "503"}).json()["data"]
    assert "HTTP 503" in data["diagnosis"] and "not the secret" in data["diagnosis"]


def test_a_401_to_a_signed_event_still_points_at_the_secret(proaudit) -> None:
    ran = proaudit("--json", "webhooks", "test", env={"PROAUDIT_APP_STATUS": "401"})
    assert ran.exit_code == 1
    assert "Paystack secret key" in ran.json()["data"]["diagnosis"]


@pytest.fixture
def live_env(tmp_path: Path) -> dict[str, str]:
    """A live key over a copy of the sandbox data, Paystack and the app simulated in process."""
    db = tmp_path / "billing.db"
    ensure_sandbox(db).dispose()
    return {
        "PAYSTACK_SECRET_KEY": "sk_live_FAKEcanary01",
        "DATABASE_URL": f"sqlite+pysqlite:///{db}",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(tmp_path),
    }


def probes(env: dict[str, str]) -> int:
    engine = ensure_sandbox(Path(env["DATABASE_URL"].split("///", 1)[1]))
    try:
        with engine.connect() as conn:
            probe = webhook_events.c.event_type == "proaudit.test"
            query = select(func.count()).select_from(webhook_events).where(probe)
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


def outcomes(proaudit, env: dict[str, str]) -> list[str]:
    records = proaudit("--json", "audit", "log", env=env).json()["data"]["records"]
    return [r["outcome"] for r in records if r["action"] == "webhooks.test"]


def test_live_key_without_live_is_refused_and_sends_nothing(proaudit, live_env: dict[str, str]) -> None:
    ran = proaudit("webhooks", "test", "--yes", env=live_env)
    assert ran.exit_code == 4, ran.stdout + ran.stderr
    assert "--live" in ran.stderr
    assert probes(live_env) == 0
    assert outcomes(proaudit, live_env) == ["refused"]


def test_live_key_with_live_but_no_terminal_and_no_yes_is_refused(proaudit, live_env: dict[str, str]) -> None:
    ran = proaudit("webhooks", "test", "--live", env=live_env)
    assert ran.exit_code == 4
    assert "no terminal to confirm on" in ran.stderr
    assert probes(live_env) == 0


def test_live_dry_run_shows_and_sends_nothing(proaudit, live_env: dict[str, str]) -> None:
    ran = proaudit("webhooks", "test", "--live", "--dry-run", env=live_env)
    assert ran.exit_code == 0, ran.stderr
    assert "nothing was sent" in ran.stdout
    assert probes(live_env) == 0
    assert outcomes(proaudit, live_env) == ["planned"]


def test_live_confirmed_sends_and_is_audited(proaudit, live_env: dict[str, str], monkeypatch) -> None:
    monkeypatch.setattr("proaudit_ops.cli.mutation.is_interactive", lambda: True)
    declined = proaudit("webhooks", "test", "--live", env=live_env, input="n\n")
    assert declined.exit_code == 4
    assert probes(live_env) == 0
    ran = proaudit("webhooks", "test", "--live", "--yes", env=live_env)
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert probes(live_env) == 1  # the signed probe reached the inbox; the forged ones were rejected
    assert outcomes(proaudit, live_env) == ["aborted", "applied"]


def test_test_key_needs_no_approval(proaudit) -> None:
    assert proaudit("webhooks", "test").exit_code == 0  # the sandbox/test inbox: no prompt, no --yes
    assert proaudit("--json", "audit", "log").json()["data"]["records"] == []
