"""Hostile configuration values, through the CLI: exit 2, one `error:` line naming the key, no
traceback, and never the secret's value. Checked for a harmless command of each kind (`config show`
reads only the settings; `payments status` would open the database)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LEAK = "LeakyValue77"  # in every secret below: it must never reach the screen


@dataclass(frozen=True)
class Case:
    name: str
    words: str  # what the one error line must say (the key as written, and what is wrong)
    env: dict[str, str] = field(default_factory=dict)
    file: str | None = None  # the config file's text (mode 0600), passed with --config
    args: tuple[str, ...] = ()  # global options before the command


GOOD_KEY = f"sk_test_{LEAK}0123456789"

CASES = [
    # DATABASE_URL: empty, garbage, another database, a driver we do not use, bad port, no file.
    Case("db-empty", "DATABASE_URL (environment) is set but empty", {"DATABASE_URL": ""}),
    Case("db-garbage", "DATABASE_URL (environment) is not a database URL", {"DATABASE_URL": f"{LEAK}garbage"}),
    Case("db-mysql", "DATABASE_URL (environment) is a 'mysql' URL", {"DATABASE_URL": f"mysql://u:{LEAK}@h/db"}),
    Case("db-psycopg2", "names the driver 'psycopg2'", {"DATABASE_URL": f"postgresql+psycopg2://u:{LEAK}@h/db"}),
    Case(
        "db-port",
        "DATABASE_URL (environment) has an invalid port",
        {"DATABASE_URL": f"postgresql://u:{LEAK}@h:99999/d"},
    ),
    Case("db-sqlite-nofile", "names no database file", {"DATABASE_URL": "sqlite://"}),
    Case("db-newline", "has whitespace around it", {"DATABASE_URL": f"postgresql://u:{LEAK}@h/db\n"}),
    Case("db-spaces", "has an invalid host name", {"DATABASE_URL": f"postgresql://u:{LEAK}@h st/db"}),
    # The Paystack base URL receives the key: an http(s) URL with a host; https off this machine.
    Case("base-ftp", "PAYSTACK_BASE_URL (environment) is not an http(s) URL", {"PAYSTACK_BASE_URL": "ftp://x"}),
    Case("base-nohttp", "is not an http(s) URL", {"PAYSTACK_BASE_URL": "api.paystack.co"}),
    Case("base-nohost", "has no host", {"PAYSTACK_BASE_URL": "https://"}),
    Case("base-plain-http", "the secret key would travel unencrypted", {"PAYSTACK_BASE_URL": "http://api.paystack.co"}),
    Case("base-creds", "carries a user name or password", {"PAYSTACK_BASE_URL": f"https://u:{LEAK}@api.paystack.co"}),
    Case("base-query", "has a query or fragment", {"PAYSTACK_BASE_URL": "https://api.paystack.co?x=1"}),
    Case("base-port", "has an invalid port", {"PAYSTACK_BASE_URL": "https://api.paystack.co:70000"}),
    Case(
        "app-url",
        "PROAUDIT_APP_BASE_URL (environment) is not an http(s) URL",
        {"PROAUDIT_APP_BASE_URL": "javascript:x"},
    ),
    Case("webhook-path", "PROAUDIT_WEBHOOK_PATH (environment) must be a URL path", {"PROAUDIT_WEBHOOK_PATH": "hook"}),
    Case("redis-http", "PROAUDIT_REDIS_URL (environment) is not a Redis URL", {"PROAUDIT_REDIS_URL": "http://h:6379"}),
    Case("redis-port", "has an invalid port", {"PROAUDIT_REDIS_URL": f"redis://:{LEAK}@h:port/0"}),
    # Timeouts and numbers: in range, lock below statement, no overflow.
    Case(
        "lock-ge-statement",
        "PROAUDIT_LOCK_TIMEOUT_MS (environment) = 15000 must be below proaudit_statement_timeout_ms (default) = 15000",
        {"PROAUDIT_LOCK_TIMEOUT_MS": "15000"},
    ),
    Case("lock-zero", "PROAUDIT_LOCK_TIMEOUT_MS (environment) must be at least 1", {"PROAUDIT_LOCK_TIMEOUT_MS": "0"}),
    Case("lock-overflow", "must be at most 600000", {"PROAUDIT_LOCK_TIMEOUT_MS": "99999999999999999999999"}),
    Case("statement-11min", "must be at most 600000", {"PROAUDIT_STATEMENT_TIMEOUT_MS": "660000"}),
    Case("timeout-nan", "PAYSTACK_TIMEOUT_SECONDS (environment) must be", {"PAYSTACK_TIMEOUT_SECONDS": "nan"}),
    Case("timeout-inf", "must be at most 300", {"PAYSTACK_TIMEOUT_SECONDS": "1e999"}),
    Case("timeout-negative", "must be above 0", {"PROAUDIT_APP_TIMEOUT_SECONDS": "-1"}),
    Case(
        "retries-overflow", "PAYSTACK_MAX_RETRIES (environment) must be at most 10", {"PAYSTACK_MAX_RETRIES": "9" * 30}
    ),
    Case("concurrency-text", "must be a whole number", {"PROAUDIT_CONCURRENCY": "eight"}),
    Case("concurrency-huge", "characters long (at most 4096)", {"PROAUDIT_CONCURRENCY": "1" * 5000}),
    Case("checkpoint-negative", "must be at least 0", {"PROAUDIT_CHECKPOINT_EVERY": "-1"}),
    Case(
        "stuck-overflow",
        "PROAUDIT_STUCK_OLDER_THAN (environment) must be above 0 and at most 366d",
        {"PROAUDIT_STUCK_OLDER_THAN": "9" * 20 + "d"},
    ),
    Case("stuck-too-long", "must be above 0 and at most 366d", {"PROAUDIT_STUCK_OLDER_THAN": "99999999d"}),
    Case("stuck-zero", "must be above 0", {"PROAUDIT_STUCK_OLDER_THAN": "0m"}),
    Case("pct-inverted", "must not be above", {"PROAUDIT_SUCCESS_RATE_CRITICAL_PCT": "99"}),
    # Booleans.
    Case(
        "sandbox-mode-maybe",
        "PAYSTACK_SANDBOX_MODE (environment) must be true or false",
        {"PAYSTACK_SANDBOX_MODE": "maybe"},
    ),
    Case("sandbox-mode-empty", "PAYSTACK_SANDBOX_MODE (environment) is set but empty", {"PAYSTACK_SANDBOX_MODE": ""}),
    Case(
        "simulator-2",
        "PROAUDIT_PAYSTACK_SIMULATOR (environment) must be true or false",
        {"PROAUDIT_PAYSTACK_SIMULATOR": "2"},
    ),
    # Keys: the shape of a secret key, bounded, no whitespace, never the value in the message.
    Case(
        "key-10mb",
        "PAYSTACK_SECRET_KEY (environment) is 10485771 characters long (at most 256)",
        {"PAYSTACK_SECRET_KEY": "sk_test_" + LEAK * (10 * 2**20 // len(LEAK)) + "LeakyVa"},
    ),
    Case("key-public", "is a public key (pk_...), not a secret key", {"PAYSTACK_SECRET_KEY": f"pk_test_{LEAK}"}),
    Case("key-bogus", "is not a Paystack secret key", {"PAYSTACK_SECRET_KEY": f"sk_bogus_{LEAK}"}),
    Case(
        "key-newline",
        "PAYSTACK_SECRET_KEY (environment) has whitespace around it",
        {"PAYSTACK_SECRET_KEY": GOOD_KEY + "\n"},
    ),
    Case("key-inner-space", "is not a Paystack secret key", {"PAYSTACK_SECRET_KEY": f"sk_test_{LEAK} 123"}),
    Case("key-empty", "PAYSTACK_SECRET_KEY (environment) is set but empty", {"PAYSTACK_SECRET_KEY": ""}),
    Case("key-escape", "contains a control character", {"PAYSTACK_SECRET_KEY": f"sk_test_{LEAK}\x1b[2J"}),
    Case(
        "public-holds-secret", "PAYSTACK_PUBLIC_KEY (environment) holds a secret key", {"PAYSTACK_PUBLIC_KEY": GOOD_KEY}
    ),
    Case("plan-key-huge", "PROAUDIT_PLAN_KEY (environment) is", {"PROAUDIT_PLAN_KEY": LEAK * 1000}),
    # Text values shown on the screen and in the audit log.
    Case(
        "operator-escape",
        "PROAUDIT_OPERATOR (environment) contains a control character",
        {"PROAUDIT_OPERATOR": "\x1b[31mada"},
    ),
    Case(
        "incident-long",
        "PROAUDIT_INCIDENT (environment) is 300 characters long (at most 200)",
        {"PROAUDIT_INCIDENT": "I" * 300},
    ),
    Case("home-empty", "PROAUDIT_HOME (environment) is set but empty", {"PROAUDIT_HOME": ""}),
    # Which file and which profile: never silently the default file or the sandbox.
    Case("config-empty-flag", "--config: the path is empty", args=("--config", "")),
    Case("config-empty-env", "PROAUDIT_CONFIG is set but empty", {"PROAUDIT_CONFIG": ""}),
    Case("profile-empty-flag", "--profile is set but empty", args=("--profile", "")),
    Case("profile-empty-env", "PROAUDIT_PROFILE is set but empty", {"PROAUDIT_PROFILE": ""}),
    Case("profile-no-file", "unknown profile 'production': no config file", {"PROAUDIT_PROFILE": "production"}),
    Case("profile-junk", "is not a profile name", args=("--profile", "prod\x1b[2J")),
    Case(
        "profile-unknown",
        "unknown profile 'prod' in",
        file="[profiles.production]\nproaudit_concurrency = 2\n",
        args=("--profile", "prod"),
    ),
    Case(
        "profile-not-table",
        "profiles.production is a string, not a table",
        file='[profiles]\nproduction = "x"\n',
        args=("--profile", "production"),
    ),
    Case("profile-empty", "profile 'production' in", file="[profiles.production]\n", args=("--profile", "production")),
    Case(
        "profile-empty-env-chosen",
        "configures neither a database nor a Paystack key",
        {"PROAUDIT_PROFILE": "production"},
        file="[profiles.production]\nproaudit_concurrency = 2\n",
    ),
    Case(
        "profile-forced-sandbox",
        "profile 'production' would run against the sandbox: PROAUDIT_SANDBOX (environment) is true",
        {"PROAUDIT_SANDBOX": "true"},
        file=f"[profiles.production]\ndatabase_url = 'postgresql://u:{LEAK}@h/db'\n",
        args=("--profile", "production"),
    ),
    Case(
        "profile-typo",
        "unknown configuration key 'profiles.staging.databse_url'",
        file="[profiles.staging]\ndatabse_url = 'x'\n",
    ),
    Case("file-db-number", "database_url in", file="database_url = 42\n"),
    Case(
        "file-profile-key",
        "profiles.production.proaudit_lock_timeout_ms in",
        file="database_url = 'sqlite:///x.db'\n[profiles.production]\nproaudit_lock_timeout_ms = 9223372036854775807\n",
        args=("--profile", "production"),
    ),
    Case("file-inf", "paystack_timeout_seconds in", file="paystack_timeout_seconds = inf\n"),
    Case("file-huge-string", "proaudit_incident in", file=f"proaudit_incident = '{'a' * 300}'\n"),
    Case("file-table-value", "unknown configuration key 'paystack'", file="[paystack]\nsecret_key = 'x'\n"),
    Case("file-not-toml", "is not valid TOML", file="this is = = not toml\n"),
    Case("file-not-utf8", "is not UTF-8 text", file="\udcff"),
]

COMMANDS = [("config", "show"), ("payments", "status")]


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_value_is_one_line_and_exit_2(proaudit, tmp_path: Path, case: Case, command: tuple[str, ...]) -> None:
    args = list(case.args)
    if case.file is not None:
        args += ["--config", str(_write_config(tmp_path, case.file))]
    ran = proaudit(*args, *command, env=case.env)
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert ran.exit_code == 2, (ran.exit_code, ran.stderr[:500])
    assert len(errors) == 1, ran.stderr[:500]
    assert len(ran.stderr.splitlines()) == 1, ran.stderr[:500]
    assert case.words in errors[0], errors[0][:500]
    assert "Traceback" not in ran.stdout + ran.stderr
    assert LEAK not in ran.stdout + ran.stderr


def _fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "fifo")
    return str(tmp_path / "fifo")


def _under_a_file(tmp_path: Path) -> str:
    (tmp_path / "plain").write_text("x")
    return str(tmp_path / "plain" / "config.toml")


def _large(tmp_path: Path) -> str:
    path = tmp_path / "large.toml"
    path.write_text("# padding\n" * 200_000)
    return str(path)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda tmp: str(tmp), "is a directory, not a file"),
        (lambda tmp: "/dev/zero", "is not a regular file (a character device)"),
        (_fifo, "is not a regular file (a FIFO)"),
        (_under_a_file, "a part of the path is a file, not a directory"),
        (lambda tmp: str(tmp / "missing.toml"), "no such file"),
        (_large, "is larger than 1 MiB"),
    ],
    ids=["directory", "dev-zero", "fifo", "under-a-file", "missing", "large"],
)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_config_path_that_is_not_a_config_file(proaudit, tmp_path: Path, make, words: str, command) -> None:
    ran = proaudit("--config", make(tmp_path), *command)
    assert ran.exit_code == 2
    assert ran.stderr.startswith("error: config file ")
    assert len(ran.stderr.splitlines()) == 1
    assert words in ran.stderr


def test_valid_edge_values_are_accepted(proaudit, tmp_path: Path) -> None:
    """The checks refuse nonsense, not what tests, drills and real deployments use."""
    from proaudit_ops.sandbox.home import ensure_sandbox

    db = tmp_path / "billing.db"
    ensure_sandbox(db).dispose()
    env = {
        "DATABASE_URL": f"SQLITE+pysqlite:///{db}",
        "PAYSTACK_SECRET_KEY": "sk_test_0123456789abcdef0123456789abcdef01234567",
        "PAYSTACK_PUBLIC_KEY": "",  # blank in an app's .env: treated as unset
        "PAYSTACK_WEBHOOK_SECRET": "",
        "PAYSTACK_BASE_URL": "http://127.0.0.1:8089/",  # `sandbox serve`
        "PROAUDIT_APP_BASE_URL": "http://billing.internal:8000",  # the app may be plain http inside
        "PROAUDIT_REDIS_URL": "rediss://:pw@redis.internal:6380/0",
        "PROAUDIT_LOCK_TIMEOUT_MS": "599999",
        "PROAUDIT_STATEMENT_TIMEOUT_MS": "600000",
        "PAYSTACK_SANDBOX_MODE": "yes",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
        "PROAUDIT_HOME": str(tmp_path),
    }
    ran = proaudit("--json", "config", "show", env=env)
    assert ran.exit_code == 0, ran.stderr
    values = {v["key"]: v["value"] for v in ran.json()["data"]["values"]}
    assert values["paystack_base_url"] == "http://127.0.0.1:8089"
    assert values["paystack_public_key"] is None
    assert values["proaudit_lock_timeout_ms"] == "599999"
    for url in (
        "postgresql://u@[::1]:5432/db",
        "postgres:///billing?host=/var/run/postgresql",
        "postgresql://a:1,b:2/db",
    ):
        assert proaudit("config", "show", env={"DATABASE_URL": url}).exit_code == 0, url
