"""One settings object: flag > environment > config file (profile over top level) > default.

The environment names of the runbook stay valid (PAYSTACK_SECRET_KEY, DATABASE_URL, ...); the
tool's own keys are PROAUDIT_*. In the TOML file a key is the environment name in lower case;
`[profiles.NAME]` tables override the top level. `config.example.toml` documents every key.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from proaudit_ops.errors import ConfigError

DEFAULT_BASE_URL = "https://api.paystack.co"
BUILTIN_PROFILES = ("sandbox",)
SECRET_FIELDS = (
    "paystack_secret_key",
    "paystack_webhook_secret",
    "database_url",
    "proaudit_redis_url",
    "proaudit_plan_key",
    "proaudit_checkpoint_key",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="forbid", env_prefix="")

    # The runbook's names.
    paystack_secret_key: SecretStr | None = None
    paystack_public_key: str | None = None
    paystack_webhook_secret: SecretStr | None = None
    paystack_sandbox_mode: bool | None = None
    paystack_base_url: str = DEFAULT_BASE_URL
    paystack_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    paystack_max_retries: int = Field(default=3, ge=0, le=10)
    database_url: SecretStr | None = None
    # The tool's own.
    proaudit_sandbox: bool = False
    proaudit_paystack_simulator: bool = False
    proaudit_home: Path | None = None
    proaudit_redis_url: SecretStr | None = None
    proaudit_operator: str | None = None
    proaudit_incident: str | None = None
    proaudit_app_base_url: str | None = None
    proaudit_webhook_path: str = "/api/v1/billing/webhook/paystack"
    proaudit_app_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    proaudit_audit_fallback_path: Path | None = None
    proaudit_lock_timeout_ms: int = Field(default=2000, ge=1)
    proaudit_statement_timeout_ms: int = Field(default=15000, ge=1)
    proaudit_concurrency: int = Field(default=8, ge=1, le=64)
    proaudit_stuck_older_than: str = "15m"
    proaudit_success_rate_warning_pct: int = Field(default=95, ge=0, le=100)
    proaudit_success_rate_critical_pct: int = Field(default=90, ge=0, le=100)
    # Saved plans are authenticated with this HMAC key (shared by the operators who apply each
    # other's plans); unset: a key generated on first use in the tool's home, mode 0600.
    proaudit_plan_key: SecretStr | None = None
    # Audit checkpoints are signed with this key, which the database never holds; unset: a key
    # generated on first use in the tool's home. A checkpoint every N audit records (0: only on
    # `audit checkpoint`).
    proaudit_checkpoint_key: SecretStr | None = None
    proaudit_checkpoint_path: Path | None = None
    proaudit_checkpoint_every: int = Field(default=0, ge=0, le=1_000_000)

    _config_file: Path | None = PrivateAttr(default=None)
    _profile: str | None = PrivateAttr(default=None)
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def config_file(self) -> Path | None:
        return self._config_file

    @property
    def profile(self) -> str | None:
        return self._profile

    def source_of(self, name: str) -> str:
        """Where a value came from: flag, env, file, or default."""
        return self._sources.get(name, "default")

    @field_validator("paystack_base_url", "proaudit_app_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("proaudit_stuck_older_than")
    @classmethod
    def _duration(cls, value: str) -> str:
        from proaudit_ops.timeutil import parse_duration

        parse_duration(value)  # ValueError -> a one-line config error
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls, _FILE_VALUES.get()))

    # -- derived -----------------------------------------------------------------
    @property
    def is_sandbox(self) -> bool:
        """No database and no key configured: the embedded sandbox."""
        return self.proaudit_sandbox or (self.database_url is None and self.paystack_secret_key is None)

    @property
    def uses_simulator(self) -> bool:
        return self.is_sandbox or self.proaudit_paystack_simulator

    @property
    def is_live_key(self) -> bool:
        key = self.secret_key_value()
        return key is not None and key.strip().startswith("sk_live_")

    def secret_key_value(self) -> str | None:
        return self.paystack_secret_key.get_secret_value() if self.paystack_secret_key else None

    def home(self) -> Path:
        if self.proaudit_home is not None:
            return self.proaudit_home
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "proaudit"

    def sandbox_db_path(self) -> Path:
        return self.home() / "sandbox.db"

    def effective_database_url(self) -> str:
        if self.is_sandbox:
            return f"sqlite+pysqlite:///{self.sandbox_db_path()}"
        if self.database_url is None:
            raise ConfigError(
                "DATABASE_URL is not set",
                hint="set DATABASE_URL (or database_url in the config file), or use --profile sandbox",
            )
        return normalise_db_url(self.database_url.get_secret_value())

    def audit_fallback_path(self) -> Path:
        return self.proaudit_audit_fallback_path or (self.home() / "audit-fallback.jsonl")

    def secret_values(self) -> list[str]:
        """Every configured secret, for the redactor."""
        out: list[str] = []
        for name in SECRET_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out.append(value.get_secret_value())
        return out


def normalise_db_url(url: str) -> str:
    """The runbook writes `postgresql://...`; SQLAlchemy needs the psycopg 3 driver named."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class _FileSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = dict(values)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class _FileValues:
    """Hands the file's values to the settings source (pydantic builds sources per instance)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self) -> dict[str, Any]:
        return self._values

    def set(self, values: dict[str, Any]) -> None:
        self._values = values


_FILE_VALUES = _FileValues()


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "proaudit" / "config.toml"


def resolve_config_path(explicit: str | None) -> tuple[Path | None, bool]:
    """(path, explicitly asked for). An explicit path must exist; the default may not."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get("PROAUDIT_CONFIG")
    if env:
        return Path(env).expanduser(), True
    path = default_config_path()
    return (path, False) if path.exists() else (None, False)


def read_config_file(path: Path, profile: str | None) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {path}",
            hint="pass an existing file with --config, or copy config.example.toml",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"config file {path}: [profiles] must be a table of tables")
    values = {k.lower(): v for k, v in data.items()}
    if profile is not None and profile not in BUILTIN_PROFILES and profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"unknown profile {profile!r} in {path}", hint=f"known profiles: {known}")
    if profile is not None and profile in profiles:
        values.update({k.lower(): v for k, v in profiles[profile].items()})
    _refuse_open_secret_file(path, values, profiles)
    return values


def _refuse_open_secret_file(path: Path, values: dict[str, Any], profiles: dict[str, Any]) -> None:
    """Like libpq's .pgpass: a file holding a secret must not be readable by group or others."""
    tables = [values, *[p for p in profiles.values() if isinstance(p, dict)]]
    holds_secret = any(_is_secret_value(name, t.get(name)) for t in tables for name in SECRET_FIELDS)
    if not holds_secret:
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"config file {path} holds a secret and is readable by others (mode {mode:04o})",
            hint=f"run: chmod 600 {path}",
        )


def _is_secret_value(name: str, value: Any) -> bool:
    if value in (None, ""):
        return False
    if name in ("database_url", "proaudit_redis_url"):
        # A DSN is a secret only when it carries a password.
        return bool(re.search(r"://[^/@]*:[^@/]+@", str(value)))
    return True


def load_settings(
    config: str | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings; every problem is a one-line ConfigError (exit 2)."""
    profile = profile or os.environ.get("PROAUDIT_PROFILE") or None
    path, _explicit = resolve_config_path(config)
    file_values: dict[str, Any] = {}
    if path is not None:
        file_values = read_config_file(path, profile)
    elif profile is not None and profile not in BUILTIN_PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}: no config file",
            hint=f"create {default_config_path()} with a [profiles.{profile}] table, or pass --config",
        )
    init: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v is not None}
    if profile == "sandbox":
        init.setdefault("proaudit_sandbox", True)
    _FILE_VALUES.set(file_values)
    try:
        settings = Settings(**init)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        if first.get("type") == "extra_forbidden":
            raise ConfigError(
                f"unknown configuration key {where!r}",
                hint="see config.example.toml for every key",
            ) from None
        raise ConfigError(f"invalid configuration value for {where}: {first.get('msg')}") from None
    finally:
        _FILE_VALUES.set({})
    settings._config_file = path
    settings._profile = profile
    for name in Settings.model_fields:
        if name in init:
            settings._sources[name] = "flag" if name != "proaudit_sandbox" or profile != "sandbox" else "profile"
        elif name.upper() in {k.upper() for k in os.environ}:
            settings._sources[name] = "env"
        elif name in file_values:
            settings._sources[name] = "file"
    return settings
