"""`config show` and `config check`: what is configured, and the runbook's classic faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from proaudit_ops.errors import ExitCode, PaystackError, PaystackNotFound, ProauditError
from proaudit_ops.redact import mask_key, mask_url

if TYPE_CHECKING:
    from proaudit_ops.config import Settings
    from proaudit_ops.runtime import Runtime

_PROBE_REFERENCE = "proaudit-config-check"
MIN_SIGNING_KEY_CHARS = 16  # an HMAC key shorter than this is a password, not a key


@dataclass(frozen=True)
class ConfigValue:
    key: str
    value: str | None
    source: str


@dataclass(frozen=True)
class ConfigShowResult:
    mode: str
    profile: str | None
    config_file: str | None
    values: list[ConfigValue]


@dataclass(frozen=True)
class ConfigFinding:
    check: str
    message: str
    hint: str


@dataclass
class ConfigCheckResult:
    mode: str
    checks: list[str] = field(default_factory=list)
    findings: list[ConfigFinding] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDING if self.findings else ExitCode.OK


def mode_of(settings: Settings) -> str:
    if settings.is_sandbox:
        return "sandbox"
    return "live" if settings.is_live_key else "test"


def _shown(settings: Settings, name: str) -> str | None:
    value = getattr(settings, name)
    if value is None:
        return None
    if hasattr(value, "get_secret_value"):
        secret = value.get_secret_value()
        if name in ("database_url", "proaudit_redis_url"):
            return mask_url(secret)
        return mask_key(secret)
    return str(value)


def show_config(settings: Settings) -> ConfigShowResult:
    values = [
        ConfigValue(key=name, value=_shown(settings, name), source=settings.source_of(name))
        for name in type(settings).model_fields
    ]
    return ConfigShowResult(
        mode=mode_of(settings),
        profile=settings.profile,
        config_file=str(settings.config_file) if settings.config_file else None,
        values=values,
    )


def _secret_findings(settings: Settings) -> list[ConfigFinding]:
    # A secret key with whitespace around it or of the wrong kind (pk_) is refused when the
    # settings load (exit 2), so it never gets here. The webhook secret and the public key are the
    # app's copies, never sent by this tool: whitespace around them is the app's fault to report.
    out: list[ConfigFinding] = []
    key = settings.secret_key_value()
    for name in ("paystack_webhook_secret", "paystack_public_key"):
        raw = getattr(settings, name)
        value = raw.get_secret_value() if hasattr(raw, "get_secret_value") else raw
        if value is not None and value != value.strip():
            out.append(
                ConfigFinding(
                    "whitespace",
                    f"{name.upper()} has whitespace around it (a trailing newline?)",
                    f"remove the whitespace from {name.upper()}"
                    + (
                        ": the app's webhook signature checks fail with it" if name == "paystack_webhook_secret" else ""
                    ),
                )
            )
    public = settings.paystack_public_key
    if key is not None and public is not None:
        key_mode = "live" if key.startswith("sk_live_") else "test"
        for mode in ("live", "test"):
            if public.strip().startswith(f"pk_{mode}_") and mode != key_mode:
                out.append(
                    ConfigFinding(
                        "public_key",
                        f"PAYSTACK_PUBLIC_KEY is a {mode} key (pk_{mode}_) but the secret key is sk_{key_mode}_",
                        f"use the pk_{key_mode}_ and sk_{key_mode}_ keys of the same mode",
                    )
                )
    for name in ("proaudit_plan_key", "proaudit_checkpoint_key"):
        secret = getattr(settings, name)
        if secret is not None and len(secret.get_secret_value()) < MIN_SIGNING_KEY_CHARS:
            out.append(
                ConfigFinding(
                    "signing_key",
                    f"{name.upper()} is shorter than {MIN_SIGNING_KEY_CHARS} characters: it can be guessed",
                    f"use a random key, e.g. the output of: openssl rand -hex 32 (set it in {name.upper()})",
                )
            )
    if settings.is_live_key and not settings.uses_simulator:
        from proaudit_ops.config import DEFAULT_BASE_URL

        host = urlsplit(settings.paystack_base_url).hostname
        if host != "api.paystack.co":
            out.append(
                ConfigFinding(
                    "base_url",
                    f"the live key is sent to {host}, not api.paystack.co (PAYSTACK_BASE_URL)",
                    f"unset PAYSTACK_BASE_URL (default {DEFAULT_BASE_URL}) unless {host} is your Paystack proxy",
                )
            )
    webhook = settings.paystack_webhook_secret
    if webhook is not None and key is not None and webhook.get_secret_value().strip() != key.strip():
        out.append(
            ConfigFinding(
                "webhook_secret",
                "PAYSTACK_WEBHOOK_SECRET differs from PAYSTACK_SECRET_KEY",
                "Paystack signs webhooks with the secret key: set PAYSTACK_WEBHOOK_SECRET to the same value",
            )
        )
    sandbox_mode = settings.paystack_sandbox_mode
    if key is not None and sandbox_mode is not None:
        live = key.strip().startswith("sk_live_")
        if live and sandbox_mode:
            out.append(
                ConfigFinding(
                    "mode",
                    "a live key (sk_live_) is configured with PAYSTACK_SANDBOX_MODE=true",
                    "set PAYSTACK_SANDBOX_MODE=false for production, or use the sk_test_ key",
                )
            )
        if not live and key.strip().startswith("sk_test_") and not sandbox_mode:
            out.append(
                ConfigFinding(
                    "mode",
                    "a test key (sk_test_) is configured with PAYSTACK_SANDBOX_MODE=false",
                    "use the sk_live_ key for production, or set PAYSTACK_SANDBOX_MODE=true",
                )
            )
    return out


def _database_findings(runtime: Runtime) -> list[ConfigFinding]:
    from sqlalchemy import text

    from proaudit_ops.db.engine import read_only, schema_drift

    try:
        with read_only(runtime.engine()) as conn:
            conn.execute(text("SELECT 1"))
        drift = schema_drift(runtime.engine())
    except ProauditError as exc:
        return [ConfigFinding("database", exc.message, exc.hint or "check DATABASE_URL")]
    except Exception as exc:  # inspection errors from the driver
        return [
            ConfigFinding(
                "database",
                f"cannot inspect the database: {type(exc).__name__}",
                "check DATABASE_URL",
            )
        ]
    return [
        ConfigFinding(
            "schema",
            f"schema drift: {line}",
            "the tool's schema contract (db/schema.py) and this database disagree",
        )
        for line in drift
    ]


def _paystack_findings(runtime: Runtime) -> list[ConfigFinding]:
    try:
        runtime.paystack().verify_transaction(_PROBE_REFERENCE)
    except PaystackNotFound:
        return []  # reachable, and the key was accepted
    except PaystackError as exc:
        return [ConfigFinding("paystack", exc.message, exc.hint or "check PAYSTACK_BASE_URL and network access")]
    except ProauditError as exc:
        return [ConfigFinding("paystack", exc.message, exc.hint or "check the Paystack settings")]
    return []


def _app_findings(runtime: Runtime) -> list[ConfigFinding]:
    """The billing app's health endpoint answers (the webhook endpoint's host is up)."""
    import httpx

    client, base = runtime.app_client()
    if base is None:
        return [
            ConfigFinding(
                "app",
                "PROAUDIT_APP_BASE_URL is not set: the webhook endpoint cannot be checked",
                "set PROAUDIT_APP_BASE_URL to the billing app's base URL",
            )
        ]
    try:
        response = client.get(base + "/health")
    except httpx.HTTPError as exc:
        return [
            ConfigFinding(
                "app",
                f"the billing app at {base} did not answer: {type(exc).__name__}",
                "check the app is up and PROAUDIT_APP_BASE_URL; then run proaudit webhooks test",
            )
        ]
    if response.status_code != 200:
        return [
            ConfigFinding(
                "app",
                f"the billing app's /health answered HTTP {response.status_code}",
                "the app is unhealthy: webhooks will fail until it recovers",
            )
        ]
    return []


def _redis_findings(runtime: Runtime) -> list[ConfigFinding]:
    from proaudit_ops.kv.redis_client import ping

    url = runtime.settings.proaudit_redis_url
    if url is None:
        return []
    try:
        ping(url.get_secret_value())
    except ProauditError as exc:
        return [ConfigFinding("redis", exc.message, exc.hint or "check PROAUDIT_REDIS_URL")]
    return []


def check_config(runtime: Runtime) -> ConfigCheckResult:
    result = ConfigCheckResult(mode=mode_of(runtime.settings))
    result.checks.append("secrets")
    result.findings.extend(_secret_findings(runtime.settings))
    result.checks.append("database")
    result.findings.extend(_database_findings(runtime))
    result.checks.append("paystack")
    result.findings.extend(_paystack_findings(runtime))
    result.checks.append("app")
    result.findings.extend(_app_findings(runtime))
    if runtime.settings.proaudit_redis_url is not None:
        result.checks.append("redis")
        result.findings.extend(_redis_findings(runtime))
    return result
