"""Fault injection for the simulator and the billing app.

Two ways to ask for faults:

* Random, by rate: `FaultConfig` (Paystack simulator) and `AppFaultConfig` (billing app), from
  code or from `PROAUDIT_SIM_*` / `PROAUDIT_APP_*` environment variables. A seeded RNG makes a
  run repeatable.
* Scripted, exactly: `script_fault(engine, "/refund", "drop", method="POST")` makes the next
  matching request get that fault (`count` times). The rows live in the `sim_faults` table of
  the state database, so a test can script a fault for a server running in another process.
  Paths match exactly, or by prefix when they end in `*` (`/transaction/verify/*`).

Fault kinds: `error` (HTTP 500, or `status`), `rate_limit` (429 + Retry-After), `timeout`
(nothing done, no answer), `drop` (the side effect is done and committed, then the answer is
lost), `malformed` (HTTP 200 with an HTML body, nothing done).
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Engine, delete, exists, select, update
from sqlalchemy.exc import OperationalError

from proaudit_ops.sandbox.state import read_conn, sim_faults, write_conn
from proaudit_ops.timeutil import utcnow


class FaultKind(StrEnum):
    ERROR = "error"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    DROP = "drop"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int | None = None


def _rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


@dataclass(frozen=True)
class FaultConfig:
    """Random faults of the Paystack simulator. Rates are probabilities per request."""

    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_s: int = 1
    timeout_rate: float = 0.0
    timeout_s: float = 35.0  # over HTTP: how long a "timeout" keeps the client waiting
    drop_after_effect_rate: float = 0.0  # POST only
    malformed_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms!r}")
        if self.retry_after_s < 0:
            raise ValueError(f"retry_after_s must be >= 0, got {self.retry_after_s!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")
        for name in (
            "error_rate",
            "rate_limit_rate",
            "timeout_rate",
            "drop_after_effect_rate",
            "malformed_rate",
        ):
            _rate(name, getattr(self, name))

    @property
    def any_random(self) -> bool:
        return any(
            (
                self.error_rate,
                self.rate_limit_rate,
                self.timeout_rate,
                self.drop_after_effect_rate,
                self.malformed_rate,
            )
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultConfig:
        """PROAUDIT_SIM_LATENCY_MS, _ERROR_RATE, _RATE_LIMIT_RATE, _RETRY_AFTER_S, _TIMEOUT_RATE,
        _TIMEOUT_S, _DROP_RATE, _MALFORMED_RATE, _SEED. Unset or empty = the default."""
        env = os.environ if environ is None else environ
        p = "PROAUDIT_SIM_"
        return cls(
            latency_ms=_env_int(env, p + "LATENCY_MS", 0, minimum=0),
            error_rate=_env_rate(env, p + "ERROR_RATE"),
            rate_limit_rate=_env_rate(env, p + "RATE_LIMIT_RATE"),
            retry_after_s=_env_int(env, p + "RETRY_AFTER_S", 1, minimum=0),
            timeout_rate=_env_rate(env, p + "TIMEOUT_RATE"),
            timeout_s=_env_float(env, p + "TIMEOUT_S", 35.0),
            drop_after_effect_rate=_env_rate(env, p + "DROP_RATE"),
            malformed_rate=_env_rate(env, p + "MALFORMED_RATE"),
            seed=_env_opt_int(env, p + "SEED"),
        )


@dataclass(frozen=True)
class AppFaultConfig:
    """Faults of the billing app's endpoints (webhook and /health).

    `status` answers every request with that status: 500 means the app received the webhook,
    recorded it and failed while processing it (inbox row failed, payment untouched); any other
    status (502, 503, 504, ...) means a proxy answered and the app never saw the request.
    """

    status: int | None = None
    latency_ms: int = 0
    error_rate: float = 0.0  # random 500s, like status=500 but only sometimes
    timeout_rate: float = 0.0
    timeout_s: float = 35.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {self.status!r}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")
        _rate("error_rate", self.error_rate)
        _rate("timeout_rate", self.timeout_rate)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppFaultConfig:
        """PROAUDIT_APP_STATUS, _LATENCY_MS, _ERROR_RATE, _TIMEOUT_RATE, _TIMEOUT_S, _SEED."""
        env = os.environ if environ is None else environ
        p = "PROAUDIT_APP_"
        status = _env_opt_int(env, p + "STATUS")
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"{p}STATUS must be an HTTP error status (400-599), got {status!r}")
        return cls(
            status=status,
            latency_ms=_env_int(env, p + "LATENCY_MS", 0, minimum=0),
            error_rate=_env_rate(env, p + "ERROR_RATE"),
            timeout_rate=_env_rate(env, p + "TIMEOUT_RATE"),
            timeout_s=_env_float(env, p + "TIMEOUT_S", 35.0),
            seed=_env_opt_int(env, p + "SEED"),
        )


# -- environment parsing --------------------------------------------------------------------


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def _env_opt_int(env: Mapping[str, str], name: str) -> int | None:
    raw = _raw(env, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    value = _env_opt_int(env, name)
    if value is None:
        return default
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw!r}")
    return value


def _env_rate(env: Mapping[str, str], name: str) -> float:
    raw = _raw(env, name)
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


# -- deciding ---------------------------------------------------------------------------------


@dataclass
class Dice:
    """A thread-safe seeded RNG: the same seed and request order give the same faults."""

    seed: int | None
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self, count: int) -> list[float]:
        with self._lock:
            return [self._rng.random() for _ in range(count)]


def random_fault(config: FaultConfig, dice: Dice, method: str) -> Fault | None:
    """One decision per request; five draws every time so a seed stays repeatable."""
    rate_limit, error, timeout, malformed, drop = dice.roll(5)
    if rate_limit < config.rate_limit_rate:
        return Fault(FaultKind.RATE_LIMIT, 429)
    if error < config.error_rate:
        return Fault(FaultKind.ERROR, 500)
    if timeout < config.timeout_rate:
        return Fault(FaultKind.TIMEOUT)
    if malformed < config.malformed_rate:
        return Fault(FaultKind.MALFORMED, 200)
    if method == "POST" and drop < config.drop_after_effect_rate:
        return Fault(FaultKind.DROP)
    return None


def random_app_fault(config: AppFaultConfig, dice: Dice) -> Fault | None:
    error, timeout = dice.roll(2)
    if config.status is not None:
        return Fault(FaultKind.ERROR, config.status)
    if timeout < config.timeout_rate:
        return Fault(FaultKind.TIMEOUT)
    if error < config.error_rate:
        return Fault(FaultKind.ERROR, 500)
    return None


# -- scripted faults ------------------------------------------------------------------------------


def script_fault(
    engine: Engine,
    path: str,
    kind: FaultKind | str,
    *,
    count: int = 1,
    method: str | None = None,
    status: int | None = None,
) -> None:
    """The next `count` requests to `path` (and `method`, if given) get fault `kind`.

    `path` is exact (`/refund`) or a prefix ending in `*` (`/transaction/verify/*`); `status` is
    the HTTP status of an `error` fault (default 500). Needs the sim tables in `engine`.
    """
    fault_kind = FaultKind(kind)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    with write_conn(engine) as conn:
        conn.execute(
            sim_faults.insert().values(
                method=method.upper() if method else None,
                path=path,
                kind=fault_kind.value,
                status=status,
                remaining=count,
                created_at=utcnow(),
            )
        )


def clear_scripted_faults(engine: Engine) -> int:
    with write_conn(engine) as conn:
        return conn.execute(delete(sim_faults)).rowcount


def _matches(pattern: str, path: str) -> bool:
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


def take_scripted_fault(engine: Engine, method: str, path: str) -> Fault | None:
    """Consume one matching scripted fault (oldest first), atomically. Cheap when none exist."""
    try:
        with read_conn(engine) as conn:
            pending = conn.execute(select(exists().where(sim_faults.c.remaining > 0))).scalar()
    except OperationalError:  # no sim tables in this database: nothing scripted
        return None
    if not pending:
        return None
    with write_conn(engine) as conn:
        rows = conn.execute(select(sim_faults).where(sim_faults.c.remaining > 0).order_by(sim_faults.c.id)).all()
        for row in rows:
            if row.method not in (None, method) or not _matches(row.path, path):
                continue
            if row.remaining <= 1:
                conn.execute(delete(sim_faults).where(sim_faults.c.id == row.id))
            else:
                conn.execute(update(sim_faults).where(sim_faults.c.id == row.id).values(remaining=row.remaining - 1))
            return Fault(FaultKind(row.kind), row.status)
    return None
