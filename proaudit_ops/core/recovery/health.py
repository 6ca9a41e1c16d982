"""`recovery health`: the runbook's "Assess Scope" checks, concurrently, each bounded in time.

The app's /health, the database (SELECT 1, latency, replication lag), Redis PING, Paystack
(reachable, key accepted: one cheap authenticated GET), and the Celery queue depth when a broker
is configured. A check that is not configured is `skipped`, not failed; any `fail` exits 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import ExitCode, ProauditError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.runtime import Runtime

OK, FAIL, SKIPPED = "ok", "fail", "skipped"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | fail | skipped
    detail: str
    latency_ms: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthResult:
    checks: list[Check]
    timeout_s: float

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == FAIL]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDING if self.failed else ExitCode.OK


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ProauditError):
        return " ".join(exc.message.split())
    return type(exc).__name__


def check_app(runtime: Runtime, timeout_s: float) -> Check:
    client, base = runtime.app_client()
    if base is None:
        return Check("app", SKIPPED, "PROAUDIT_APP_BASE_URL is not set")
    import httpx

    url = base.rstrip("/") + "/health"
    started = time.monotonic()
    try:
        response = client.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Check("app", FAIL, f"GET {url}: {type(exc).__name__}", _ms(started))
    latency = _ms(started)
    body = " ".join(response.text[:200].split())
    status = OK if 200 <= response.status_code < 300 else FAIL
    return Check("app", status, f"GET {url}: HTTP {response.status_code} {body}".strip(), latency)


def replication(conn: Connection) -> dict[str, Any]:
    """On a replica: in_recovery and the replay lag (0 when everything received is replayed);
    on a primary: its streaming replicas and their largest replay lag."""
    from sqlalchemy import text

    in_recovery = bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar())
    if in_recovery:
        lag = conn.execute(
            text(
                "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
                "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
            )
        ).scalar()
        return {"role": "replica", "lag_s": None if lag is None else float(lag)}
    rows = conn.execute(
        text("SELECT application_name, state, COALESCE(EXTRACT(EPOCH FROM replay_lag), 0) FROM pg_stat_replication")
    ).all()
    lags = [float(r[2]) for r in rows]
    return {
        "role": "primary",
        "replicas": [{"name": r[0], "state": r[1], "lag_s": float(r[2])} for r in rows],
        "lag_s": max(lags) if lags else None,
    }


def check_database(runtime: Runtime, timeout_s: float, max_lag_s: float) -> Check:
    from sqlalchemy import text

    from proaudit_ops.db.engine import make_engine, read_only

    s = runtime.settings
    own = None
    started = time.monotonic()
    try:
        if runtime.is_sandbox:
            engine = runtime.engine()
        else:
            ms = int(timeout_s * 1000)
            own = engine = make_engine(
                s.effective_database_url(),
                connect_timeout_s=max(1, int(timeout_s)),
                lock_timeout_ms=max(1, ms - 1),
                statement_timeout_ms=max(2, ms),
            )
        with read_only(engine) as conn:
            conn.execute(text("SELECT 1")).scalar()
            latency = _ms(started)
            if engine.dialect.name != "postgresql":
                return Check("database", OK, f"SELECT 1 ({engine.dialect.name})", latency)
            repl = replication(conn)
    except Exception as exc:
        return Check("database", FAIL, f"SELECT 1: {_why(exc)}", _ms(started))
    finally:
        if own is not None:
            own.dispose()
    lag = repl.get("lag_s")
    if repl["role"] == "replica":
        detail = "SELECT 1; a replica (in recovery)" + ("" if lag is None else f", replay lag {lag:.1f} s")
    else:
        n = len(repl["replicas"])
        detail = f"SELECT 1; primary, {n} streaming replica(s)" + (
            "" if lag is None else f", max replay lag {lag:.1f} s"
        )
    status = FAIL if lag is not None and lag > max_lag_s else OK
    if status == FAIL:
        detail += f" (above {max_lag_s:g} s)"
    return Check("database", status, detail, latency, repl)


def check_redis(runtime: Runtime, timeout_s: float) -> Check:
    s = runtime.settings
    if s.proaudit_redis_url is None and not runtime.is_sandbox:
        return Check("redis", SKIPPED, "PROAUDIT_REDIS_URL is not set")
    started = time.monotonic()
    try:
        store = runtime.kv()
        store.ping()
    except Exception as exc:
        return Check("redis", FAIL, f"PING: {_why(exc)}", _ms(started))
    return Check("redis", OK, f"PING: PONG ({store.label})", _ms(started))


def check_paystack(runtime: Runtime, timeout_s: float) -> Check:
    started = time.monotonic()
    try:
        with runtime.new_paystack(timeout_s, 0) as client:
            client.list_transactions_page(per_page=1)
            mode = client.mode or "sandbox"
    except Exception as exc:
        return Check("paystack", FAIL, f"GET /transaction?perPage=1: {_why(exc)}", _ms(started))
    return Check("paystack", OK, f"GET /transaction?perPage=1: reachable, key accepted ({mode})", _ms(started))


def check_celery(runtime: Runtime, timeout_s: float) -> Check:
    s = runtime.settings
    if s.proaudit_celery_broker_url is None:
        return Check("celery", SKIPPED, "PROAUDIT_CELERY_BROKER_URL is not set")
    import redis

    from proaudit_ops.kv.redis_client import connect
    from proaudit_ops.redact import mask_url

    url = s.proaudit_celery_broker_url.get_secret_value()
    queue = s.proaudit_celery_queue
    started = time.monotonic()
    client = connect(url, timeout_s=timeout_s)
    try:
        depth = int(client.llen(queue))
    except redis.RedisError as exc:
        return Check("celery", FAIL, f"LLEN {queue} at {mask_url(url)}: {type(exc).__name__}", _ms(started))
    finally:
        client.close()
    limit = s.proaudit_celery_max_depth
    status = FAIL if depth > limit else OK
    detail = f"queue {queue!r}: {depth} waiting" + (f" (above {limit})" if status == FAIL else "")
    return Check("celery", status, detail, _ms(started), {"queue": queue, "depth": depth})


def health(runtime: Runtime, *, timeout_s: float | None = None) -> HealthResult:
    s = runtime.settings
    bound = timeout_s or s.proaudit_health_timeout_seconds
    # Built here, once, before the threads: the checks share these lazily built adapters.
    if runtime.is_sandbox:
        runtime.engine()
    runtime.paystack_limiter()
    probes: list[tuple[str, Callable[[], Check]]] = [
        ("app", lambda: check_app(runtime, bound)),
        ("database", lambda: check_database(runtime, bound, s.proaudit_replica_max_lag_seconds)),
        ("redis", lambda: check_redis(runtime, bound)),
        ("paystack", lambda: check_paystack(runtime, bound)),
        ("celery", lambda: check_celery(runtime, bound)),
    ]
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="health")
    futures = {name: pool.submit(probe) for name, probe in probes}
    # Every probe has its own timeouts; this is the backstop for one that ignores them.
    wait(futures.values(), timeout=bound * 2 + 1)
    pool.shutdown(wait=False, cancel_futures=True)
    checks = []
    for name, future in futures.items():
        if not future.done():
            checks.append(Check(name, FAIL, f"no answer within {bound * 2 + 1:g} s"))
        elif future.exception() is not None:
            checks.append(Check(name, FAIL, _why(future.exception())))  # type: ignore[arg-type]
        else:
            checks.append(future.result())
    return HealthResult(checks, bound)
