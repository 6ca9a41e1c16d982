"""Maintenance mode: the runbook's keys, always with a TTL, previous values restored, audited."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recovery_helpers import Invoke, run_process

MESSAGE = "Billing system maintenance in progress"
KEYS = ("maintenance_mode", "maintenance_message", "proaudit:maintenance:previous")


@pytest.fixture
def rds(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def audit_records(proaudit: Invoke, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    ran = proaudit("--json", "audit", "log", env=env)
    assert ran.exit_code == 0, ran.stderr
    return [r for r in ran.json()["data"]["records"] if r["action"].startswith("recovery.maintenance")]


def test_sandbox_on_status_off_with_the_local_stand_in(proaudit: Invoke, isolated_env: Path) -> None:
    ran = proaudit("recovery", "maintenance", "status")
    assert ran.exit_code == 0 and "maintenance is off" in ran.stdout
    ran = proaudit("recovery", "maintenance", "on", "--message", MESSAGE, "--ttl", "2h", "--yes")
    assert ran.exit_code == 0, ran.stderr
    assert "maintenance is now on" in ran.stdout
    data = proaudit("--json", "recovery", "maintenance", "status").json()["data"]
    keys = {k["key"]: k for k in data["keys"]}
    assert data["on"] is True and data["store"].startswith("local stand-in")
    assert keys["maintenance_mode"]["value"] == "true"
    assert keys["maintenance_message"]["value"] == MESSAGE
    assert all(0 < keys[k]["ttl_s"] <= 7200 for k in KEYS)
    assert (isolated_env / "kv.sqlite").is_file()
    ran = proaudit("recovery", "maintenance", "off", "--yes")
    assert ran.exit_code == 0 and "maintenance is now off" in ran.stdout
    assert proaudit("--json", "recovery", "maintenance", "status").json()["data"]["on"] is False
    records = audit_records(proaudit)
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("recovery.maintenance.on", "applied"),
        ("recovery.maintenance.off", "applied"),
    ]
    assert proaudit("audit", "verify").exit_code == 0


def test_off_restores_what_was_there_before_on(proaudit: Invoke, rds: Any, redis_url: str) -> None:
    env = {"PROAUDIT_REDIS_URL": redis_url}
    rds.set("maintenance_mode", "false")  # the app's own, no expiry
    rds.set("maintenance_message", "old notice", ex=300)
    assert proaudit("recovery", "maintenance", "on", "-m", MESSAGE, "--ttl", "1h", "--yes", env=env).exit_code == 0
    assert rds.get("maintenance_mode") == "true" and rds.get("maintenance_message") == MESSAGE
    assert all(0 < rds.pttl(k) <= 3_600_000 for k in KEYS)  # never a key without expiry
    # A second `on` changes the message and TTL but keeps the values saved by the first.
    assert (
        proaudit("recovery", "maintenance", "on", "-m", "still busy", "--ttl", "30m", "--yes", env=env).exit_code == 0
    )
    assert rds.get("maintenance_message") == "still busy" and rds.pttl("maintenance_mode") <= 1_800_000
    ran = proaudit("recovery", "maintenance", "off", "--yes", env=env)
    assert ran.exit_code == 0, ran.stderr
    assert rds.get("maintenance_mode") == "false" and rds.pttl("maintenance_mode") == -1  # as it was
    assert rds.get("maintenance_message") == "old notice" and 0 < rds.pttl("maintenance_message") <= 300_000
    assert rds.exists("proaudit:maintenance:previous") == 0
    on, _again, off = audit_records(proaudit, env)
    assert on["after"]["before"]["maintenance_mode"]["value"] == "false"
    assert on["after"]["before"]["maintenance_message"]["value"] == "old notice"
    assert on["after"]["after"]["maintenance_mode"]["value"] == "true"
    assert off["after"]["before"]["maintenance_message"]["value"] == "still busy"


def test_dry_run_and_no_terminal_change_nothing(proaudit: Invoke, rds: Any, redis_url: str) -> None:
    env = {"PROAUDIT_REDIS_URL": redis_url}
    ran = proaudit("recovery", "maintenance", "on", "-m", MESSAGE, "--dry-run", env=env)
    assert ran.exit_code == 0 and "planned" in ran.stdout
    # the dry run says what it would have done: which keys, the message, for how long
    assert "set maintenance_mode=true" in ran.stdout and MESSAGE in ran.stdout and "7200 s" in ran.stdout
    ran = proaudit("recovery", "maintenance", "on", "-m", MESSAGE, env=env)
    assert ran.exit_code == 4 and "--yes" in ran.stderr
    assert all(rds.exists(k) == 0 for k in KEYS)
    assert [r["outcome"] for r in audit_records(proaudit, env)] == ["planned", "refused"]


def test_a_live_key_needs_live(proaudit: Invoke, rds: Any, redis_url: str) -> None:
    env = {
        "PROAUDIT_REDIS_URL": redis_url,
        "PAYSTACK_SECRET_KEY": "sk_live_" + "a" * 40,
        "PAYSTACK_SANDBOX_MODE": "false",
    }
    ran = proaudit("recovery", "maintenance", "on", "-m", MESSAGE, "--yes", env=env)
    assert ran.exit_code == 4 and "--live" in ran.stderr
    assert rds.exists("maintenance_mode") == 0
    assert proaudit("recovery", "maintenance", "on", "-m", MESSAGE, "--yes", "--live", env=env).exit_code == 0
    assert rds.get("maintenance_mode") == "true"


def test_bad_input_is_exit_2(proaudit: Invoke) -> None:
    for args in (["--ttl", "30s"], ["--ttl", "25h"], ["--ttl", "forever"]):
        ran = proaudit("recovery", "maintenance", "on", "-m", MESSAGE, *args, "--yes")
        assert ran.exit_code == 2 and "--ttl" in ran.stderr, args
    for message in ("", "two\nlines", "x" * 501):
        ran = proaudit("recovery", "maintenance", "on", "-m", message, "--yes")
        assert ran.exit_code == 2 and "--message" in ran.stderr


def test_redis_down_is_exit_3(proaudit: Invoke) -> None:
    ran = proaudit("recovery", "maintenance", "status", env={"PROAUDIT_REDIS_URL": "redis://:pw-secret@127.0.0.1:1/0"})
    assert ran.exit_code == 3 and "pw-secret" not in ran.stderr + ran.stdout


def test_production_without_redis_is_a_config_error(proaudit: Invoke) -> None:
    env = {"PAYSTACK_SECRET_KEY": "sk_test_" + "a" * 40, "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}
    ran = proaudit("recovery", "maintenance", "status", env=env)
    assert ran.exit_code == 2 and "PROAUDIT_REDIS_URL" in ran.stderr


def test_maintenance_on_for_other_commands(redis_url: str, rds: Any) -> None:
    from proaudit_ops.config import load_settings
    from proaudit_ops.core.recovery.maintenance import maintenance_on
    from proaudit_ops.runtime import Runtime

    os.environ["PROAUDIT_REDIS_URL"] = redis_url  # restored by the autouse isolated_env's monkeypatch
    with Runtime(load_settings()) as runtime:
        assert maintenance_on(runtime) is False
        rds.set("maintenance_mode", "true", ex=60)
        assert maintenance_on(runtime) is True


def test_sigkill_right_after_the_set_leaves_keys_with_a_ttl(rds: Any, redis_url: str) -> None:
    env = {"PROAUDIT_REDIS_URL": redis_url, "PROAUDIT_CRASH_AT": "maintenance:after_set"}
    killed = run_process(["recovery", "maintenance", "on", "-m", MESSAGE, "--ttl", "1m", "--yes"], env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert rds.get("maintenance_mode") == "true"
    assert all(0 < rds.pttl(k) <= 60_000 for k in KEYS)


# The same crash with a one-second TTL (below the command's 1m minimum, so through the core):
# the keys then clear by themselves.
_SHORT = """
from datetime import timedelta
from proaudit_ops.config import load_settings
from proaudit_ops.core.recovery.maintenance import turn_on
from proaudit_ops.protocols.guard import ApplyOptions
from proaudit_ops.runtime import Runtime

with Runtime(load_settings()) as runtime:
    turn_on(runtime, "short", timedelta(seconds=1), ApplyOptions(assume_yes=True), lambda p: True)
"""


def test_after_sigkill_the_keys_clear_by_themselves(rds: Any, redis_url: str) -> None:
    env = {**os.environ, "PROAUDIT_REDIS_URL": redis_url, "PROAUDIT_CRASH_AT": "maintenance:after_set"}
    killed = subprocess.run(
        [sys.executable, "-c", _SHORT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert all(0 < rds.pttl(k) <= 1000 for k in KEYS)
    saved = json.loads(rds.get("proaudit:maintenance:previous"))
    assert saved["maintenance_mode"] == {"value": None, "expires_ms": None}
    deadline = time.monotonic() + 10
    while any(rds.exists(k) for k in KEYS):
        assert time.monotonic() < deadline, "the maintenance keys did not clear by themselves"
        time.sleep(0.1)
