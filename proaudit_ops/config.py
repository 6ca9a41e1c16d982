"""One settings object: flag > environment > config file (profile over top level) > default.

The environment names of the runbook stay valid (PAYSTACK_SECRET_KEY, DATABASE_URL, ...); the
tool's own keys are PROAUDIT_*. In the TOML file a key is the environment name in lower case;
`[profiles.NAME]` tables override the top level. `config.example.toml` documents every key.

Everything is checked here, before any connection is opened (every command loads the settings
first): the config file (a regular file of bounded size, owned by you or root, not writable by
others, in folders others cannot write to; holding a secret: not readable by others either), the
profile (a table that configures something: a named profile never falls back to the sandbox), and
every value (a URL of a supported kind, a key of the right shape, timeouts in range, bounded
lengths). Each problem is one ConfigError (exit 2) naming the key as the operator wrote it
(`DATABASE_URL (environment)`, `profiles.production.database_url in FILE`) and never its value.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from proaudit_ops.errors import ConfigError
from proaudit_ops.files import MAX_CONFIG_BYTES, read_text_file

DEFAULT_BASE_URL = "https://api.paystack.co"
BUILTIN_PROFILES = ("sandbox",)
SECRET_FIELDS = (
    "paystack_secret_key",
    "paystack_webhook_secret",
    "database_url",
    "proaudit_redis_url",
    "proaudit_plan_key",
    "proaudit_checkpoint_key",
    "proaudit_celery_broker_url",
)
MAX_VALUE_CHARS = 4096  # any one value: a DSN with options fits, a pasted file does not
MAX_KEY_CHARS = 256  # Paystack keys are 48 characters
MAX_NAME_CHARS = 200  # operator and incident names, profile names
MAX_TIMEOUT_MS = 600_000  # 10 minutes: a lock or statement timeout above that is a typo
MAX_STUCK_AGE = timedelta(days=366)
MAX_LOG_PATHS = 32  # proaudit_log_paths: an app writes a few logs, not a directory tree
_UNIT_RE = re.compile(r"[A-Za-z0-9@_.:-]{1,200}")
# The schemes we can drive (SQLAlchemy with psycopg 3, or the standard library's sqlite3).
DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg", "sqlite", "sqlite+pysqlite")
REDIS_SCHEMES = ("redis", "rediss", "unix")
_FIELD_LIMITS = {
    "paystack_secret_key": MAX_KEY_CHARS,
    "paystack_public_key": MAX_KEY_CHARS,
    "paystack_webhook_secret": MAX_KEY_CHARS,
    "proaudit_operator": MAX_NAME_CHARS,
    "proaudit_incident": MAX_NAME_CHARS,
}
# The tool never sends these two (the public key is informational; the webhook secret is the app's
# copy of the secret key, compared by `config check`): an app's .env often leaves them blank, and
# whitespace around them is the app's fault, which `config check` reports as a finding.
_BLANK_IS_UNSET = ("paystack_public_key", "paystack_webhook_secret")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SECRET_KEY_RE = re.compile(r"sk_(?:test|live)_[A-Za-z0-9_]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}")
_HOST_RE = re.compile(r"[A-Za-z0-9_.\-%]+|\[[0-9A-Fa-f:.%A-Za-z]+\]")
_PROFILE_RE = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_NAME_CHARS}}}")
KEY_HINT = "use the sk_test_/sk_live_ key from Dashboard > Settings > API Keys; pk_ keys cannot verify or refund"
WHITESPACE_HINT = "remove the whitespace: Paystack rejects the key and every webhook signature fails"


class InvalidValue(ValueError):
    """A value the settings refuse: `message` completes "<key as written> ...", never quoting the value.

    `fields` names the settings a cross-field rule involves ({0}, {1} in the message).
    """

    def __init__(self, message: str, hint: str | None = None, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields


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
    proaudit_lock_timeout_ms: int = Field(default=2000, ge=1, le=MAX_TIMEOUT_MS)
    proaudit_statement_timeout_ms: int = Field(default=15000, ge=1, le=MAX_TIMEOUT_MS)
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
    # Monitoring (`monitor check`): the runbook's key-metric thresholds, the dunning window, and the
    # Prometheus server that holds the billing app's metrics (unset: its rows are not checked).
    proaudit_webhook_time_warning_seconds: float = Field(default=5.0, gt=0, le=86_400)
    proaudit_webhook_time_critical_seconds: float = Field(default=15.0, gt=0, le=86_400)
    proaudit_failed_webhook_warning_pct: float = Field(default=5.0, ge=0, le=100)
    proaudit_failed_webhook_critical_pct: float = Field(default=10.0, ge=0, le=100)
    proaudit_dunning_conversion_warning_pct: float = Field(default=50.0, ge=0, le=100)
    proaudit_dunning_conversion_critical_pct: float = Field(default=30.0, ge=0, le=100)
    proaudit_dunning_window: str = "90d"
    proaudit_api_response_warning_ms: int = Field(default=500, ge=1, le=MAX_TIMEOUT_MS)
    proaudit_api_response_critical_ms: int = Field(default=2000, ge=1, le=MAX_TIMEOUT_MS)
    proaudit_prometheus_url: str | None = None
    proaudit_prometheus_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    proaudit_api_response_query: str = (
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="billing"}[$window])))'
    )

    # -- Incidents and log search (issue 10) ------------------------------------------------
    # The app logs `logs search` reads, each with its rotations (app.log.1, app.log.2.gz, ...);
    # unset: the sandbox's own log in sandbox mode, else the runbook's /var/log/tekvwarho/app.log.
    # PROAUDIT_LOG_PATHS takes them separated by ':' like PATH.
    proaudit_log_paths: Annotated[list[Path] | None, NoDecode] = None
    # The systemd unit whose journal `logs search` also reads when journalctl exists ("off": none).
    proaudit_journal_unit: str = "tekvwarho-api"
    # Role -> whom to reach (the runbook's Contact Information); roles not given keep the runbook's.
    proaudit_incident_contacts: dict[str, str] = Field(default_factory=dict)

    @field_validator("proaudit_log_paths", mode="before")
    @classmethod
    def _log_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(os.pathsep) if part.strip()]
        if isinstance(value, list):
            if not 1 <= len(value) <= MAX_LOG_PATHS:
                raise InvalidValue(f"must list 1 to {MAX_LOG_PATHS} paths", 'e.g. ["/var/log/tekvwarho/app.log"]')
            for item in value:
                if not isinstance(item, str) or not item.strip() or _CONTROL_RE.search(item):
                    raise InvalidValue("holds an empty or malformed path", 'e.g. ["/var/log/tekvwarho/app.log"]')
            return [os.path.expanduser(item) for item in value]
        return value

    @field_validator("proaudit_journal_unit")
    @classmethod
    def _journal_unit(cls, value: str) -> str:
        if not _UNIT_RE.fullmatch(value):
            raise InvalidValue("is not a systemd unit name", 'e.g. "tekvwarho-api" (or "off" for no journal)')
        return value

    @field_validator("proaudit_incident_contacts")
    @classmethod
    def _contacts(cls, value: dict[str, str]) -> dict[str, str]:
        for role, contact in value.items():
            for text in (role, contact):
                if not text.strip() or len(text) > MAX_NAME_CHARS or _CONTROL_RE.search(text):
                    raise InvalidValue(
                        f"has an empty, overlong or malformed entry ({len(text)} characters)",
                        'e.g. { "Engineering Lead" = "page @ada" }',
                    )
        return value

    # Recovery (issue 8): `recovery health`, the shared Paystack rate limit. The Celery broker is
    # checked only when its URL is set; a queue deeper than the maximum fails the check. The rate
    # limits are N/WINDOW ("50/60s"); unset: half of Paystack's documented limit for the key's mode.
    proaudit_health_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    proaudit_replica_max_lag_seconds: float = Field(default=30.0, ge=0, le=86400)
    proaudit_celery_broker_url: SecretStr | None = None
    proaudit_celery_queue: str = Field(default="celery", max_length=200)
    proaudit_celery_max_depth: int = Field(default=1000, ge=0, le=1_000_000_000)
    proaudit_paystack_rate_limit: str | None = None
    proaudit_paystack_rate_limits: str | None = None

    # Refunds (issue 7): a refund above this many subunits needs a second operator (`proaudit
    # approve PLAN`, then `proaudit apply PLAN`); 0 makes every refund need one.
    proaudit_refund_approval_above: int = Field(default=50_000_000, ge=0, le=10**15)

    # reconcile: above this many list pages (100 transactions each) `--source auto` uses Paystack's
    # transaction export (one CSV) instead of paging within the rate limit.
    proaudit_reconcile_max_pages: int = Field(default=1000, ge=1, le=1_000_000)

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

    # -- validation (each raises InvalidValue; load_settings names the key) ------------------
    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        """Every text value: bounded, not blank, no whitespace around it, no control characters."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        name = info.field_name or ""
        limit = _FIELD_LIMITS.get(name, MAX_VALUE_CHARS)
        if len(raw) > limit:
            raise InvalidValue(f"is {len(raw)} characters long (at most {limit})", "give the value itself, not a file")
        if raw.strip() == "":
            if name in _BLANK_IS_UNSET:
                return None
            raise InvalidValue("is set but empty", "unset it, or give it a value")
        if raw != raw.strip() and name not in _BLANK_IS_UNSET:
            hint = WHITESPACE_HINT if name == "paystack_secret_key" else "remove the whitespace"
            raise InvalidValue("has whitespace around it (a trailing newline?)", hint)
        if _CONTROL_RE.search(raw.strip()):
            raise InvalidValue("contains a control character", "retype the value; it was probably pasted with junk")
        return value

    @field_validator("paystack_secret_key")
    @classmethod
    def _secret_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or _SECRET_KEY_RE.fullmatch(value.get_secret_value()):
            return value
        if value.get_secret_value().startswith(("pk_test_", "pk_live_")):
            raise InvalidValue("is a public key (pk_...), not a secret key", KEY_HINT)
        raise InvalidValue("is not a Paystack secret key (expected sk_test_... or sk_live_...)", KEY_HINT)

    @field_validator("paystack_public_key")
    @classmethod
    def _public_key_is_public(cls, value: str | None) -> str | None:
        # `config show` prints the public key as it is: a secret key here would be shown.
        if value is not None and value.strip().startswith(("sk_", "rk_")):
            raise InvalidValue(
                "holds a secret key (sk_...), which would be shown unmasked",
                "put the pk_ key in PAYSTACK_PUBLIC_KEY and the secret key only in PAYSTACK_SECRET_KEY",
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_database_url(value.get_secret_value())
        return value

    @field_validator("paystack_base_url", "proaudit_app_base_url", "proaudit_prometheus_url")
    @classmethod
    def _base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        # The Paystack base URL receives the secret key in every request's Authorization header.
        check_http_url(value, https_off_loopback=info.field_name == "paystack_base_url")
        return value.rstrip("/")

    @field_validator("proaudit_redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_redis_url(value.get_secret_value())
        return value

    @field_validator("proaudit_celery_broker_url")
    @classmethod
    def _celery_broker_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_redis_url(value.get_secret_value())
        return value

    @field_validator("proaudit_paystack_rate_limit", "proaudit_paystack_rate_limits")
    @classmethod
    def _rates(cls, value: str | None, info: ValidationInfo) -> str | None:
        from proaudit_ops.kv.ratelimit import parse_rate, parse_rate_table

        if value is not None:
            try:
                parse_rate(value) if info.field_name == "proaudit_paystack_rate_limit" else parse_rate_table(value)
            except ValueError:
                what = "a rate" if info.field_name == "proaudit_paystack_rate_limit" else "a list of PATH=RATE"
                raise InvalidValue(
                    f"is not {what} (N requests per window: at least 2, a window of 1s to 24h)",
                    "e.g. 50/60s; per endpoint: /transaction/verify=1500/60s, /refund=40/60s",
                ) from None
        return value

    @field_validator("proaudit_webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        if not value.startswith("/") or any(ch.isspace() for ch in value) or "#" in value:
            raise InvalidValue(
                "must be a URL path starting with / (no spaces)", "e.g. /api/v1/billing/webhook/paystack"
            )
        return value

    @field_validator("proaudit_home", "proaudit_audit_fallback_path", "proaudit_checkpoint_path")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        # config.example.toml writes "~/.local/share/proaudit": a literal "~" folder is never meant.
        return Path(os.path.expanduser(value)) if value is not None else None

    @field_validator("proaudit_stuck_older_than", "proaudit_dunning_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        from proaudit_ops.timeutil import parse_duration

        try:
            parse_duration(value, minimum=timedelta(seconds=1), maximum=MAX_STUCK_AGE)
        except ValueError as exc:
            if "out of range" in str(exc):
                raise InvalidValue("must be above 0 and at most 366d", "e.g. 15m") from None
            raise InvalidValue("is not a duration (expected e.g. 15m, 24h, 30d)", "e.g. 15m") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.proaudit_lock_timeout_ms >= self.proaudit_statement_timeout_ms:
            raise InvalidValue(
                f"{{0}} = {self.proaudit_lock_timeout_ms} must be below {{1}} = {self.proaudit_statement_timeout_ms}",
                "a lock wait longer than the statement timeout would never report the lock",
                ("proaudit_lock_timeout_ms", "proaudit_statement_timeout_ms"),
            )
        if self.proaudit_success_rate_critical_pct > self.proaudit_success_rate_warning_pct:
            raise InvalidValue(
                f"{{0}} = {self.proaudit_success_rate_critical_pct} must not be above "
                f"{{1}} = {self.proaudit_success_rate_warning_pct}",
                "the critical threshold is the lower one (runbook: warning 95, critical 90)",
                ("proaudit_success_rate_critical_pct", "proaudit_success_rate_warning_pct"),
            )
        self._monitor_thresholds()
        return self

    def _monitor_thresholds(self) -> None:
        # Each pair: (warning, critical, True when the critical one is the higher value).
        pairs = (
            ("proaudit_webhook_time_warning_seconds", "proaudit_webhook_time_critical_seconds", True),
            ("proaudit_failed_webhook_warning_pct", "proaudit_failed_webhook_critical_pct", True),
            ("proaudit_api_response_warning_ms", "proaudit_api_response_critical_ms", True),
            ("proaudit_dunning_conversion_warning_pct", "proaudit_dunning_conversion_critical_pct", False),
        )
        for warning_name, critical_name, higher in pairs:
            warning, critical = getattr(self, warning_name), getattr(self, critical_name)
            if (critical < warning) if higher else (critical > warning):
                side = "below" if higher else "above"
                raise InvalidValue(
                    f"{{0}} = {critical} must not be {side} {{1}} = {warning}",
                    f"the critical threshold is the {'higher' if higher else 'lower'} one (see the runbook's table)",
                    (critical_name, warning_name),
                )
        if "$window" not in self.proaudit_api_response_query:
            raise InvalidValue(
                "{0} must contain $window (replaced by --window: write [$window] where the runbook has [5m])",
                "e.g. histogram_quantile(0.95, sum by (le) (rate(..._bucket[$window])))",
                ("proaudit_api_response_query",),
            )

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


# -- value checks -------------------------------------------------------------------------
def normalise_db_url(url: str) -> str:
    """The runbook writes `postgresql://...`; SQLAlchemy needs the psycopg 3 driver named."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres", "postgresql+psycopg", "postgres+psycopg"):
        return "postgresql+psycopg://" + rest
    if sep and scheme.lower() in ("sqlite", "sqlite+pysqlite"):
        return scheme.lower() + "://" + rest
    return url


def check_database_url(url: str) -> None:
    """A PostgreSQL or SQLite URL SQLAlchemy can open; InvalidValue (never quoting the URL) otherwise."""
    examples = "use postgresql://USER@HOST:5432/DBNAME or sqlite:///PATH"
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME_RE.fullmatch(scheme):
        raise InvalidValue("is not a database URL", examples)
    lower = scheme.lower()
    if lower not in DATABASE_SCHEMES:
        dialect, _, driver = lower.partition("+")
        if dialect in ("postgresql", "postgres", "sqlite"):
            raise InvalidValue(f"names the driver {driver!r}, which proaudit does not use", f"write {dialect}://...")
        raise InvalidValue(f"is a {dialect!r} URL: proaudit supports PostgreSQL and SQLite only", examples)
    if lower.startswith("sqlite"):
        path = rest[1:] if rest.startswith("/") else None
        if not path or path.startswith("?"):
            raise InvalidValue("names no database file", "use sqlite:///relative.db or sqlite:////absolute/path.db")
        return
    netloc = re.split(r"[/?]", rest, maxsplit=1)[0]
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(",") if hosts else ():
        _check_host_port(host, "use postgresql://USER@HOST:5432/DBNAME")


def _check_host_port(hostport: str, hint: str) -> None:
    if hostport.startswith("["):
        host, _, port = hostport.partition("]")
        host += "]"
        port = port[1:] if port.startswith(":") else port
    else:
        host, _, port = hostport.partition(":")
    if host and not _HOST_RE.fullmatch(host):
        raise InvalidValue("has an invalid host name", hint)
    if port and (not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536):
        raise InvalidValue("has an invalid port (1-65535)", hint)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_url(url: str, *, https_off_loopback: bool) -> None:
    """An http(s) base URL with a host, no credentials, query or fragment."""
    hint = "e.g. https://api.paystack.co" if https_off_loopback else "e.g. https://api.example.com"
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidValue("is not a valid URL", hint) from None
    if parts.scheme.lower() not in ("http", "https") or not url.lower().startswith(("http://", "https://")):
        raise InvalidValue("is not an http(s) URL", hint)
    netloc = parts.netloc
    if "@" in netloc:
        raise InvalidValue("carries a user name or password (it would be shown and logged)", hint)
    if not netloc:
        raise InvalidValue("has no host", hint)
    _check_host_port(netloc, hint)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidValue("has a query or fragment: give the base URL only", hint)
    if any(ch.isspace() for ch in url):
        raise InvalidValue("contains a space", hint)
    if https_off_loopback and parts.scheme.lower() == "http" and not _is_loopback(parts.hostname or ""):
        raise InvalidValue(
            "uses http:// to a host that is not this machine: the secret key would travel unencrypted",
            "use https://, or http:// only for 127.0.0.1 or localhost (proaudit sandbox serve)",
        )


def check_redis_url(url: str) -> None:
    hint = "e.g. redis://127.0.0.1:6379/0, rediss://HOST:6380/0 or unix:///run/redis.sock"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES:
        raise InvalidValue("is not a Redis URL (redis://, rediss:// or unix://)", hint)
    if scheme.lower() == "unix":
        if not rest.startswith("/") and "@/" not in rest:
            raise InvalidValue("names no socket path", hint)
        return
    netloc = re.split(r"[/?]", rest, maxsplit=1)[0]
    _check_host_port(netloc.rpartition("@")[2], hint)


# -- the config file ----------------------------------------------------------------------
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


@dataclass
class ConfigFile:
    """A config file's values for one profile, and which keys the profile table set."""

    path: Path
    values: dict[str, Any]
    profiles: dict[str, dict[str, Any]]
    from_profile: set[str] = field(default_factory=set)
    profile_name: str | None = None


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "proaudit" / "config.toml"


def resolve_config_path(explicit: str | None) -> tuple[Path | None, bool]:
    """(path, explicitly asked for). An explicit path must exist; the default may not.

    An empty --config or PROAUDIT_CONFIG is an error, not "no config": falling back to the
    default file (or the sandbox) would run against something the operator did not name.
    """
    if explicit is not None:
        if explicit.strip() == "":
            raise ConfigError("--config: the path is empty", hint="pass the config file's path, or leave --config out")
        return Path(explicit).expanduser(), True
    env = os.environ.get("PROAUDIT_CONFIG")
    if env is not None:
        if env.strip() == "":
            raise ConfigError("PROAUDIT_CONFIG is set but empty", hint="unset PROAUDIT_CONFIG, or set it to a file")
        return Path(env).expanduser(), True
    path = default_config_path()
    try:
        os.lstat(path)
    except FileNotFoundError:
        return None, False
    except OSError:
        pass  # there, but unreadable (or a part of the path is a file): the reader says which
    return path, False


def read_config_file(path: Path, profile: str | None) -> ConfigFile:
    text = read_text_file(
        path,
        "config file",
        max_bytes=MAX_CONFIG_BYTES,
        error=ConfigError,
        hint="pass an existing file with --config, or copy config.example.toml",
    )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    profiles = data.pop("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(
            f"config file {path}: profiles must be a table of tables",
            hint="write each profile as a [profiles.NAME] table",
        )
    tables: list[Mapping[str, Any]] = [data, *[p for p in profiles.values() if isinstance(p, dict)]]
    holds_secret = any(_is_secret_value(k.lower(), v) for t in tables for k, v in t.items())
    check_config_file_safety(path, holds_secret=holds_secret)
    _check_keys(path, "", data)
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"config file {path}: profiles.{name} is a {_toml_kind(table)}, not a table",
                hint=f"write it as a [profiles.{name}] table of settings",
            )
        _check_keys(path, f"profiles.{name}.", table)
    values = {k.lower(): v for k, v in data.items()}
    lowered = {name: {k.lower(): v for k, v in table.items()} for name, table in profiles.items()}
    result = ConfigFile(path=path, values=values, profiles=lowered)
    if profile is not None and profile not in BUILTIN_PROFILES and profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"unknown profile {profile!r} in {path}", hint=f"known profiles: {known} (and sandbox)")
    if profile is not None and profile in profiles:
        values.update(lowered[profile])
        result.from_profile = set(lowered[profile])
        result.profile_name = profile
    return result


def _check_keys(path: Path, prefix: str, table: Mapping[str, Any]) -> None:
    for key in table:
        if key.lower() not in Settings.model_fields:
            raise ConfigError(
                f"unknown configuration key {prefix + key!r} in {path}",
                hint="see config.example.toml for every key",
            )


def _toml_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _is_secret_value(name: str, value: Any) -> bool:
    if name not in SECRET_FIELDS or value in (None, ""):
        return False
    if name in ("database_url", "proaudit_redis_url", "proaudit_celery_broker_url"):
        # A DSN is a secret only when it carries a password.
        return bool(re.search(r"://[^/@]*:[^@/]+@", str(value)))
    return True


# -- config file safety (OpenSSH's safe_path, libpq's .pgpass) ----------------------------
def check_config_file_safety(path: Path, *, holds_secret: bool) -> None:
    """Refuse a config file others could have written or replaced, or (holding a secret) read.

    A config file steers where the secret key goes (paystack_base_url) and which database is
    changed, so every file, secret or not, must be: a file (and every symlink on the way to it)
    owned by you or root, not writable by group or others, in folders (the file's real folder and
    every folder above it up to your home, or /) owned by you or root and not writable by group or
    others. A sticky folder such as /tmp is accepted: there, only an entry's owner (you or root,
    checked) can rename or remove it, so nobody else can replace the file. A file holding a secret
    must also not be readable by group or others. Root is trusted as OpenSSH trusts it: it can
    replace any file anyway, and configuration management installs files as root.
    Checked after the read (whether the file holds a secret decides the mode rule): sound, since
    with every folder on the way ours or root's and closed to others, nobody else could have
    swapped the file between the read and the check.
    """
    uid = os.geteuid()
    try:
        home = Path(os.path.realpath(os.path.expanduser("~")))
        current = Path(os.path.expanduser(path))
        if not current.is_absolute():
            current = Path.cwd() / current
        for _hop in range(40):
            folder = Path(os.path.realpath(current.parent))
            _check_folders(path, folder, uid, home)
            entry = folder / current.name
            info = os.lstat(entry)
            if not stat.S_ISLNK(info.st_mode):
                break
            if not _trusted(info.st_uid, uid):
                raise ConfigError(
                    f"config file {path}: the symlink {entry} is owned by another user ({_user(info.st_uid)})",
                    hint=f"replace the link with a file of your own, or run: chown -h {_user(uid)} {entry}",
                )
            current = folder / os.readlink(entry)
        else:
            raise ConfigError(f"config file {path}: too many levels of symbolic links")
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot check its ownership: {exc.strerror or exc}") from None
    if not _trusted(info.st_uid, uid):
        raise ConfigError(
            f"config file {entry} is owned by another user ({_user(info.st_uid)})",
            hint=f"run: chown {_user(uid)} {entry}, or use a copy of your own",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise ConfigError(
            f"config file {entry} is writable by {_who(mode, 0o020, 0o002)} (mode {mode:04o})",
            hint=f"run: chmod go-w {entry}" + (" (chmod 600 if it holds a secret)" if not holds_secret else ""),
        )
    if holds_secret and mode & 0o077:
        raise ConfigError(
            f"config file {entry} holds a secret and is readable by others (mode {mode:04o})",
            hint=f"run: chmod 600 {entry}",
        )


def _check_folders(path: Path, folder: Path, uid: int, home: Path) -> None:
    while True:
        info = os.stat(folder)
        if not _trusted(info.st_uid, uid):
            raise ConfigError(
                f"config file {path}: the folder {folder} is owned by another user ({_user(info.st_uid)})",
                hint="move the config file to a folder of your own (e.g. ~/.config/proaudit, mode 700)",
            )
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o022 and not mode & stat.S_ISVTX:
            raise ConfigError(
                f"config file {path}: the folder {folder} is writable by {_who(mode, 0o020, 0o002)} "
                f"(mode {mode:04o}), so they can replace the file",
                hint=f"run: chmod go-w {folder}, or move the config file to a folder of your own",
            )
        if folder == home or folder.parent == folder:
            return
        folder = folder.parent


def _trusted(owner: int, uid: int) -> bool:
    return owner in (uid, 0)


def _who(mode: int, group_bit: int, other_bit: int) -> str:
    both = bool(mode & group_bit) and bool(mode & other_bit)
    return "group and others" if both else ("group" if mode & group_bit else "others")


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


# -- loading ------------------------------------------------------------------------------
def _choose_profile(profile: str | None) -> str | None:
    where = "--profile"
    if profile is None:
        env = os.environ.get("PROAUDIT_PROFILE")
        if env is None:
            return None
        profile, where = env, "PROAUDIT_PROFILE"
    if profile.strip() == "":
        raise ConfigError(f"{where} is set but empty", hint=f"name a profile, or leave {where} out")
    if not _PROFILE_RE.fullmatch(profile):
        shown = profile if len(profile) <= 40 else profile[:40] + "..."
        raise ConfigError(
            f"{where}: {shown!r} is not a profile name",
            hint="profile names are letters, digits, '_', '-' and '.'",
        )
    return profile


def _env_name(name: str) -> str | None:
    for key in os.environ:
        if key.lower() == name:
            return key
    return None


def _key_as_written(name: str, init: Mapping[str, Any], file: ConfigFile | None) -> str:
    if name in init:
        return f"{name} (command line)"
    env = _env_name(name)
    if env is not None:
        return f"{env} (environment)"
    if file is not None and name in file.values:
        prefix = f"profiles.{file.profile_name}." if name in file.from_profile else ""
        return f"{prefix}{name} in {file.path}"
    return f"{name} (default)"


_PHRASES = {
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "string_type": "must be text",
    "path_type": "must be a path",
}
_BOUNDS = {
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be below"),
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be above"),
}


def _config_error(exc: ValidationError, init: Mapping[str, Any], file: ConfigFile | None) -> ConfigError:
    first = exc.errors()[0]
    loc = first.get("loc", ())
    name = str(loc[0]) if loc else ""
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    error = ctx.get("error")
    if kind == "extra_forbidden":
        return ConfigError(f"unknown configuration key {name!r}", hint="see config.example.toml for every key")
    if isinstance(error, InvalidValue):
        if error.fields:
            shown = [_key_as_written(f, init, file) for f in error.fields]
            return ConfigError(error.message.format(*shown), hint=error.hint)
        return ConfigError(f"{_key_as_written(name, init, file)} {error.message}", hint=error.hint)
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        phrase = f"{words} {ctx.get(bound)}"
    else:
        phrase = _PHRASES.get(kind) or f"is invalid: {first.get('msg')}"
    hint = "use true or false" if kind.startswith("bool") else "see config.example.toml for every key and its range"
    return ConfigError(f"{_key_as_written(name, init, file)} {phrase}", hint=hint)


def load_settings(
    config: str | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings; every problem is a one-line ConfigError (exit 2)."""
    profile = _choose_profile(profile)
    path, _explicit = resolve_config_path(config)
    file: ConfigFile | None = None
    if path is not None:
        file = read_config_file(path, profile)
    elif profile is not None and profile not in BUILTIN_PROFILES:
        raise ConfigError(
            f"unknown profile {profile!r}: no config file",
            hint=f"create {default_config_path()} with a [profiles.{profile}] table, or pass --config",
        )
    file_values = file.values if file is not None else {}
    init: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v is not None}
    if profile == "sandbox":
        init.setdefault("proaudit_sandbox", True)
    _FILE_VALUES.set(file_values)
    try:
        settings = Settings(**init)
    except ValidationError as exc:
        raise _config_error(exc, init, file) from None
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
    if profile is not None and profile not in BUILTIN_PROFILES and file is not None:
        _refuse_sandbox_fallback(settings, profile, file, init)
    return settings


def _refuse_sandbox_fallback(settings: Settings, profile: str, file: ConfigFile, init: Mapping[str, Any]) -> None:
    """A named profile runs against what it names: never silently against the sandbox."""
    if not settings.is_sandbox:
        return
    if settings.proaudit_sandbox:
        if file.profiles[profile].get("proaudit_sandbox") is True:
            return  # the profile itself asks for the sandbox (a drill profile)
        raise ConfigError(
            f"profile {profile!r} would run against the sandbox: "
            f"{_key_as_written('proaudit_sandbox', init, file)} is true",
            hint="unset it, or use --profile sandbox for the sandbox",
        )
    raise ConfigError(
        f"profile {profile!r} in {file.path} configures neither a database nor a Paystack key: "
        "refusing to fall back to the sandbox",
        hint=f"set database_url and paystack_secret_key in [profiles.{profile}], or use --profile sandbox",
    )
