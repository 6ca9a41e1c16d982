"""Configuration: precedence flag > env > file (profile over top level) > default; secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proaudit_ops.config import load_settings, normalise_db_url
from proaudit_ops.errors import ConfigError, ExitCode


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_no_configuration_is_the_sandbox() -> None:
    settings = load_settings()
    assert settings.is_sandbox
    assert settings.effective_database_url().startswith("sqlite")


def test_precedence_flag_env_file_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(
        tmp_path / "c.toml",
        "paystack_timeout_seconds = 11\npaystack_max_retries = 5\nproaudit_concurrency = 3\n"
        "[profiles.production]\npaystack_max_retries = 6\ndatabase_url = 'postgresql://u@db/billing'\n",
    )
    assert load_settings(str(cfg)).paystack_max_retries == 5  # file over default
    assert load_settings(str(cfg), "production").paystack_max_retries == 6  # profile over top level
    monkeypatch.setenv("PAYSTACK_MAX_RETRIES", "7")
    s = load_settings(str(cfg), "production")
    assert s.paystack_max_retries == 7  # env over file
    assert s.source_of("paystack_max_retries") == "env"
    assert s.source_of("paystack_timeout_seconds") == "file"
    assert s.paystack_timeout_seconds == 11
    s = load_settings(str(cfg), "production", {"proaudit_concurrency": 9})
    assert s.proaudit_concurrency == 9  # flag over everything
    assert s.source_of("proaudit_concurrency") == "flag"
    assert s.source_of("proaudit_stuck_older_than") == "default"


def test_runbook_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", "sk_test_abcdef123456")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db.internal:5432/billing")
    monkeypatch.setenv("PAYSTACK_SANDBOX_MODE", "true")
    monkeypatch.setenv("PAYSTACK_BASE_URL", "http://127.0.0.1:9/")
    s = load_settings()
    assert not s.is_sandbox
    assert s.paystack_sandbox_mode is True
    assert s.paystack_base_url == "http://127.0.0.1:9"
    assert s.effective_database_url() == "postgresql+psycopg://app:pw@db.internal:5432/billing"
    assert "sk_test_abcdef123456" not in repr(s)


def test_unknown_profile_is_a_config_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[profiles.staging]\nproaudit_concurrency = 2\n")
    with pytest.raises(ConfigError) as err:
        load_settings(str(cfg), "production")
    assert "production" in err.value.message
    assert "staging" in (err.value.hint or "")
    assert err.value.exit_code == ExitCode.USAGE


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(str(tmp_path / "missing.toml"))
    bad = write(tmp_path / "bad.toml", "this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(str(bad))
    typo = write(tmp_path / "typo.toml", "paystack_secret_kee = 'x'\n")
    with pytest.raises(ConfigError, match="unknown configuration key"):
        load_settings(str(typo))
    wrong = write(tmp_path / "wrong.toml", "paystack_max_retries = 'many'\n")
    with pytest.raises(ConfigError, match="paystack_max_retries"):
        load_settings(str(wrong))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_secret_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    cfg = write(tmp_path / "c.toml", 'paystack_secret_key = "sk_live_abcdefabcdef"\n', mode)
    with pytest.raises(ConfigError) as err:
        load_settings(str(cfg))
    assert "chmod 600" in (err.value.hint or "")
    assert "sk_live_abcdefabcdef" not in err.value.message


def test_dsn_with_password_counts_as_secret(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'database_url = "postgresql://u:pw@h/db"\n', 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_settings(str(cfg))
    ok = write(tmp_path / "ok.toml", 'database_url = "postgresql://u@h/db"\n', 0o644)
    assert load_settings(str(ok)).database_url is not None


def test_sandbox_profile_is_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert not load_settings().is_sandbox
    assert load_settings(profile="sandbox").is_sandbox


def test_normalise_db_url() -> None:
    assert normalise_db_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_db_url("sqlite:///x.db") == "sqlite:///x.db"


def test_normalise_db_url_schemes() -> None:
    assert normalise_db_url("postgres+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_db_url("POSTGRESQL://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_db_url("SQLite:///x.db") == "sqlite:///x.db"


def test_paths_expand_the_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config.example.toml writes "~/.local/share/proaudit": never a folder literally named "~"."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PROAUDIT_HOME", "~/ops")
    cfg = write(tmp_path / "c.toml", 'proaudit_checkpoint_path = "~/cp.jsonl"\n')
    s = load_settings(str(cfg))
    assert s.home() == tmp_path / "ops"
    assert s.proaudit_checkpoint_path == tmp_path / "cp.jsonl"
