"""`config show` masks secrets; `config check` finds the runbook's classic faults (exit 1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text


@pytest.fixture
def real_env(tmp_path: Path) -> dict[str, str]:
    """A 'production' configuration: a real (seeded SQLite) database, Paystack = the simulator."""
    from proaudit_ops.sandbox.home import ensure_sandbox

    db = tmp_path / "billing.db"
    ensure_sandbox(db).dispose()
    return {
        "PAYSTACK_SECRET_KEY": "sk_test_abcdef0123456789",
        "DATABASE_URL": f"sqlite+pysqlite:///{db}",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(tmp_path),
    }


def findings(ran) -> dict[str, str]:
    return {f["check"]: f["message"] for f in ran.json()["data"]["findings"]}


def test_sandbox_is_clean(proaudit) -> None:
    ran = proaudit("--json", "config", "check")
    assert ran.exit_code == 0, ran.stdout
    assert ran.json()["data"]["checks"] == ["secrets", "database", "paystack", "app"]


def test_clean_real_configuration(proaudit, real_env: dict[str, str]) -> None:
    ran = proaudit("--json", "config", "check", env=real_env)
    assert ran.exit_code == 0, ran.stdout


@pytest.mark.parametrize(
    ("extra", "check", "words"),
    [
        ({"PAYSTACK_WEBHOOK_SECRET": "sk_test_abcdef0123456789\n"}, "whitespace", "whitespace"),
        ({"PAYSTACK_PUBLIC_KEY": "pk_live_abcdef0123456789"}, "public_key", "live key"),
        ({"PROAUDIT_PLAN_KEY": "short"}, "signing_key", "shorter than 16"),
        ({"PAYSTACK_WEBHOOK_SECRET": "sk_test_someotherkey0000"}, "webhook_secret", "differs"),
        ({"PAYSTACK_SECRET_KEY": "sk_live_abcdef0123456789", "PAYSTACK_SANDBOX_MODE": "true"}, "mode", "live key"),
        ({"PAYSTACK_SANDBOX_MODE": "false"}, "mode", "test key"),
        ({"DATABASE_URL": "postgresql://postgres:pw@127.0.0.1:1/billing"}, "database", "cannot reach"),
        ({"PROAUDIT_SIM_ERROR_RATE": "1", "PAYSTACK_MAX_RETRIES": "0"}, "paystack", "HTTP 500"),
        ({"PROAUDIT_APP_STATUS": "500"}, "app", "HTTP 500"),
    ],
)
def test_each_fault_is_one_finding(
    proaudit, real_env: dict[str, str], extra: dict[str, str], check: str, words: str
) -> None:
    ran = proaudit("--json", "config", "check", env={**real_env, **extra})
    assert ran.exit_code == 1
    found = findings(ran)
    assert check in found, found
    assert words in found[check]
    assert all(f["hint"] for f in ran.json()["data"]["findings"])


def test_schema_drift(proaudit, real_env: dict[str, str]) -> None:
    from proaudit_ops.db.engine import make_engine

    engine = make_engine(real_env["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE payment_transactions DROP COLUMN refund_amount_kobo"))
        conn.execute(text("DROP TABLE ops_incidents"))
    engine.dispose()
    ran = proaudit("config", "check", env=real_env)
    assert ran.exit_code == 1
    assert "column payment_transactions.refund_amount_kobo is missing" in ran.stdout
    assert "table ops_incidents is missing" in ran.stdout


def test_no_app_url_is_a_finding_outside_the_sandbox(proaudit, real_env: dict[str, str]) -> None:
    env = {**real_env, "PROAUDIT_PAYSTACK_SIMULATOR": "false", "PAYSTACK_BASE_URL": "http://127.0.0.1:9"}
    ran = proaudit("--json", "config", "check", env=env)
    assert ran.exit_code == 1
    assert {"paystack", "app"} <= set(findings(ran))


def test_show_masks_and_names_sources(proaudit, real_env: dict[str, str], tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("proaudit_concurrency = 3\n[profiles.production]\nproaudit_lock_timeout_ms = 1500\n")
    os.chmod(cfg, 0o600)
    env = {**real_env, "DATABASE_URL": "postgresql://app:hunter22@db:5432/billing"}
    ran = proaudit("--json", "--config", str(cfg), "--profile", "production", "config", "show", env=env)
    assert ran.exit_code == 0
    values = {v["key"]: v for v in ran.json()["data"]["values"]}
    assert values["paystack_secret_key"]["value"] == "sk_test_****"
    assert values["database_url"]["value"] == "postgresql://app:****@db:5432/billing"
    assert values["database_url"]["source"] == "env"
    assert values["proaudit_concurrency"] == {"key": "proaudit_concurrency", "value": "3", "source": "file"}
    assert values["proaudit_lock_timeout_ms"] == {"key": "proaudit_lock_timeout_ms", "value": "1500", "source": "file"}
    assert values["proaudit_operator"]["source"] == "env"  # env beats the file
    assert "hunter22" not in ran.stdout + ran.stderr
    assert ran.json()["data"]["mode"] == "test"


@pytest.mark.redis
def test_redis_is_checked_when_configured(proaudit, redis_url: str) -> None:
    ok = proaudit("--json", "config", "check", env={"PROAUDIT_REDIS_URL": redis_url})
    assert ok.exit_code == 0, ok.stdout
    assert "redis" in ok.json()["data"]["checks"]
    down = proaudit("--json", "config", "check", env={"PROAUDIT_REDIS_URL": "redis://:RedisPw99@127.0.0.1:1/0"})
    assert down.exit_code == 1
    assert "cannot reach Redis" in findings(down)["redis"]
    assert "RedisPw99" not in down.stdout + down.stderr


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("sk_test_abcdef0123456789\n", "has whitespace around it (a trailing newline?)"),
        ("pk_test_abcdef0123456789", "is a public key (pk_...), not a secret key"),
    ],
)
def test_secret_key_faults_are_refused_by_every_command(
    proaudit, real_env: dict[str, str], key: str, words: str
) -> None:
    """The key this tool sends: refused when the settings load, by `config check` as by any command."""
    for args in (("config", "check"), ("payments", "verify", "PSK-OK-0001")):
        ran = proaudit(*args, env={**real_env, "PAYSTACK_SECRET_KEY": key})
        assert ran.exit_code == 2, args
        assert ran.stderr.startswith(f"error: PAYSTACK_SECRET_KEY (environment) {words} (next: "), ran.stderr
        assert "abcdef0123456789" not in ran.stderr


def test_live_key_sent_to_another_host_is_a_finding(proaudit, real_env: dict[str, str]) -> None:
    env = {
        **real_env,
        "PAYSTACK_SECRET_KEY": "sk_live_abcdef0123456789",
        "PROAUDIT_PAYSTACK_SIMULATOR": "false",
        "PAYSTACK_BASE_URL": "https://127.0.0.1:9",
        "PAYSTACK_MAX_RETRIES": "0",
    }
    ran = proaudit("--json", "config", "check", env=env)
    assert ran.exit_code == 1
    assert findings(ran)["base_url"] == "the live key is sent to 127.0.0.1, not api.paystack.co (PAYSTACK_BASE_URL)"
