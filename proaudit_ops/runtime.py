"""Builds the adapters a command needs from the settings, lazily, and closes them.

Sandbox mode (no configuration): the billing database is the sandbox SQLite file and Paystack is
the in-process simulator whose state lives in the same file. `proaudit_paystack_simulator` keeps a
real database but points Paystack at the simulator (drills, PostgreSQL tests).
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from proaudit_ops.config import Settings
from proaudit_ops.errors import ConfigError
from proaudit_ops.redact import redact_argv

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from proaudit_ops.audit import AuditLog
    from proaudit_ops.kv.ratelimit import PaystackLimiter
    from proaudit_ops.kv.store import KVStore
    from proaudit_ops.paystack import PaystackClient
    from proaudit_ops.protocols.guard import ChangeGuard


F = TypeVar("F")


def _faults(from_env: Callable[[], F]) -> F:
    """Simulator fault settings from PROAUDIT_SIM_* / PROAUDIT_APP_*; a bad value is a usage error."""
    try:
        return from_env()
    except ValueError as exc:
        raise ConfigError(f"bad fault injection setting: {exc}") from None


def _current_incident(settings: Settings) -> str | None:
    from proaudit_ops.core.incident.current import current_incident_id

    return current_incident_id(settings)


class Runtime:
    def __init__(self, settings: Settings, *, argv: list[str] | None = None, incident: str | None = None) -> None:
        self.settings = settings
        self.argv = list(argv or [])
        self.incident = incident or settings.proaudit_incident
        self._engine: Engine | None = None
        self._sim_engine: Engine | None = None
        self._paystack: PaystackClient | None = None
        self._audit: AuditLog | None = None
        self._app_clients: list[httpx.Client] = []
        self._kv: KVStore | None = None
        self._limiter: PaystackLimiter | None = None
        self._limiter_built = False

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._paystack is not None:
            self._paystack.close()
        if self._kv is not None:
            self._kv.close()
        for client in self._app_clients:
            client.close()
        for engine in {id(e): e for e in (self._engine, self._sim_engine) if e is not None}.values():
            engine.dispose()

    @property
    def is_sandbox(self) -> bool:
        return self.settings.is_sandbox

    # -- database ----------------------------------------------------------------------
    def engine(self) -> Engine:
        if self._engine is None:
            if self.settings.is_sandbox:
                self._engine = self.sandbox_engine()
            else:
                from proaudit_ops.db.engine import make_engine

                self._engine = make_engine(
                    self.settings.effective_database_url(),
                    lock_timeout_ms=self.settings.proaudit_lock_timeout_ms,
                    statement_timeout_ms=self.settings.proaudit_statement_timeout_ms,
                )
        return self._engine

    def sandbox_engine(self) -> Engine:
        """The sandbox file (created and seeded on first use): billing tables and simulator state."""
        if self._sim_engine is None:
            from proaudit_ops.sandbox.home import ensure_sandbox

            self._sim_engine = ensure_sandbox(self.settings.sandbox_db_path())
        return self._sim_engine

    # -- Paystack ----------------------------------------------------------------------
    def paystack(self) -> PaystackClient:
        if self._paystack is None:
            s = self.settings
            self._paystack = self.new_paystack(s.paystack_timeout_seconds, s.paystack_max_retries)
        return self._paystack

    def new_paystack(self, timeout_s: float, max_retries: int) -> PaystackClient:
        """A Paystack client of the caller's own (closed by the caller), e.g. a health probe's short timeout."""
        from proaudit_ops.paystack import PaystackClient

        s = self.settings
        if s.uses_simulator:
            from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
            from proaudit_ops.sandbox.faults import FaultConfig
            from proaudit_ops.sandbox.transport import simulator_transport

            key = s.secret_key_value() or SANDBOX_SECRET_KEY
            transport = simulator_transport(self.sandbox_engine(), _faults(FaultConfig.from_env))
            return PaystackClient(
                key,
                base_url=s.paystack_base_url,
                timeout_s=timeout_s,
                max_retries=max_retries,
                transport=transport,
                limiter=self.paystack_limiter(),
            )
        configured = s.secret_key_value()
        if not configured:
            raise ConfigError(
                "PAYSTACK_SECRET_KEY is not set",
                hint="export PAYSTACK_SECRET_KEY or set paystack_secret_key in the config file (chmod 600)",
            )
        return PaystackClient(
            configured,
            base_url=s.paystack_base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            limiter=self.paystack_limiter(),
        )

    def paystack_limiter(self) -> PaystackLimiter | None:
        """The shared Paystack rate limit: Redis when PROAUDIT_REDIS_URL is set, else this process.

        The sandbox simulator (in process, or `sandbox serve` with the sandbox's key) has no quota to
        protect: no limit there unless one is set.
        """
        if not self._limiter_built:
            self._limiter_built = True
            from proaudit_ops.kv.ratelimit import (
                Buckets,
                LocalBuckets,
                PaystackLimiter,
                RedisBuckets,
                default_rates,
                parse_rate,
                parse_rate_table,
            )
            from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY

            s = self.settings
            key = s.secret_key_value() or ""
            simulated = s.uses_simulator or key == SANDBOX_SECRET_KEY  # in process, or `sandbox serve`
            if simulated and s.proaudit_paystack_rate_limit is None and s.proaudit_paystack_rate_limits is None:
                return None
            mode = "live" if key.startswith("sk_live_") else "test"
            default, endpoints = default_rates(mode)
            if s.proaudit_paystack_rate_limit is not None:
                default = parse_rate(s.proaudit_paystack_rate_limit)
            if s.proaudit_paystack_rate_limits is not None:
                endpoints = parse_rate_table(s.proaudit_paystack_rate_limits)
            buckets: Buckets = LocalBuckets()
            if s.proaudit_redis_url is not None:
                import httpx

                from proaudit_ops.kv.redis_client import connect
                from proaudit_ops.redact import mask_url

                url = s.proaudit_redis_url.get_secret_value()
                host = httpx.URL(s.paystack_base_url).host or "paystack"
                # Paystack's quotas are per integration and per mode: one bucket set per host and mode.
                buckets = RedisBuckets(
                    connect(url, timeout_s=2.0), f"proaudit:paystack-rate:{host}:{mode}", f"Redis {mask_url(url)}"
                )
            self._limiter = PaystackLimiter(buckets, default, endpoints)
        return self._limiter

    # -- the key-value store (maintenance flags) ----------------------------------------------
    def kv(self) -> KVStore:
        """Redis when PROAUDIT_REDIS_URL is set; the sandbox's local stand-in in sandbox mode."""
        if self._kv is None:
            s = self.settings
            if s.proaudit_redis_url is not None:
                from proaudit_ops.kv.store import RedisStore

                url = s.proaudit_redis_url.get_secret_value()
                self._kv = RedisStore(url, timeout_s=s.proaudit_health_timeout_seconds)
            elif s.is_sandbox:
                from proaudit_ops.kv.store import LocalStore

                self._kv = LocalStore(s.home() / "kv.sqlite")
            else:
                raise ConfigError(
                    "PROAUDIT_REDIS_URL is not set: the maintenance flags live in the app's Redis",
                    hint="set PROAUDIT_REDIS_URL (e.g. redis://HOST:6379/0), or use --profile sandbox",
                )
        return self._kv

    def secret_key(self) -> str:
        """The key Paystack signs webhooks with (the sandbox's fake one in sandbox mode)."""
        key = self.settings.secret_key_value()
        if key:
            return key
        if self.settings.uses_simulator:
            from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY

            return SANDBOX_SECRET_KEY
        raise ConfigError("PAYSTACK_SECRET_KEY is not set", hint="export PAYSTACK_SECRET_KEY")

    # -- the billing app ------------------------------------------------------------------
    SANDBOX_APP_BASE = "http://sandbox-app.invalid"

    def app_base_url(self, url: str | None = None) -> str | None:
        return (
            url
            or self.settings.proaudit_app_base_url
            or (self.SANDBOX_APP_BASE if self.settings.uses_simulator else None)
        )

    def app_endpoint(self, url: str | None = None) -> tuple[httpx.Client, str]:
        """A client for the app and the webhook endpoint URL (`url` is the full endpoint URL).

        With no app configured, sandbox mode delivers to the sandbox's in-process billing app.
        """
        s = self.settings
        target = url or (s.proaudit_app_base_url + s.proaudit_webhook_path if s.proaudit_app_base_url else None)
        if target is None and not s.uses_simulator:
            raise ConfigError(
                "PROAUDIT_APP_BASE_URL is not set: no webhook endpoint to deliver to",
                hint="set PROAUDIT_APP_BASE_URL (e.g. https://api.example.com) or pass --url",
            )
        return self._app_client(target is None), target or self.SANDBOX_APP_BASE + s.proaudit_webhook_path

    def app_client(self, url: str | None = None) -> tuple[httpx.Client, str | None]:
        """A client for the app itself (health) and its base URL."""
        base = url or self.settings.proaudit_app_base_url
        if base is None and not self.settings.uses_simulator:
            return self._app_client(False), None
        return self._app_client(base is None), base or self.SANDBOX_APP_BASE

    def _app_client(self, in_process: bool) -> httpx.Client:
        import httpx

        transport: httpx.BaseTransport | None = None
        if in_process:
            from proaudit_ops.sandbox.faults import AppFaultConfig
            from proaudit_ops.sandbox.transport import app_transport

            transport = app_transport(
                self.engine(),
                self.secret_key(),
                _faults(AppFaultConfig.from_env),
                script_engine=self.sandbox_engine(),
            )
        client = httpx.Client(timeout=self.settings.proaudit_app_timeout_seconds, transport=transport)
        self._app_clients.append(client)
        return client

    # -- audit and the change guard ----------------------------------------------------------
    def audit_log(self) -> AuditLog:
        if self._audit is None:
            from proaudit_ops.audit import AuditContext, AuditLog
            from proaudit_ops.audit.checkpoint import checkpoint_store

            try:
                os_user = getpass.getuser()
            except (KeyError, OSError):
                os_user = "unknown"
            context = AuditContext(
                operator=self.settings.proaudit_operator or os_user,
                os_user=os_user,
                host=socket.gethostname(),
                command=redact_argv(["proaudit", *self.argv[1:]], self.settings.secret_values()),
                # --incident > PROAUDIT_INCIDENT (both arrive as `incident`) > config > `incident open`'s
                # current-incident file (which tags what is written, and never filters what is read)
                incident=self.incident or _current_incident(self.settings),
            )
            self._audit = AuditLog(
                context,
                self.settings.audit_fallback_path(),
                lock_timeout_ms=self.settings.proaudit_lock_timeout_ms,
                statement_timeout_ms=self.settings.proaudit_statement_timeout_ms,
                checkpoints=checkpoint_store(self.settings),
                checkpoint_every=self.settings.proaudit_checkpoint_every,
            )
        return self._audit

    def guard(self) -> ChangeGuard:
        from proaudit_ops.protocols.guard import ChangeGuard
        from proaudit_ops.protocols.plan_auth import settings_plan_key

        settings = self.settings
        return ChangeGuard(
            self.engine(),
            self.audit_log(),
            lock_timeout_ms=settings.proaudit_lock_timeout_ms,
            statement_timeout_ms=settings.proaudit_statement_timeout_ms,
            plan_key=lambda: settings_plan_key(settings),  # read (or made) only when a plan is saved or loaded
            paystack=self.paystack,  # only a plan with an external step (a refund) calls it
        )
