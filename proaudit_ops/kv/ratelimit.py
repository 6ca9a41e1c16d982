"""One Paystack rate limit for every proaudit process: a token bucket in Redis (one Lua script,
atomic, on Redis's clock), or in this process when there is no Redis.

Paystack counts requests per integration and per mode over 60 s windows (reference section 7).
A bucket here holds `burst` tokens (a tenth of the limit) and refills the rest of the limit over
the window, so no window of that length ever sees more than the limit, whatever the bursts:
burst + refill x window = limit. A request takes one token from the bucket of the longest
configured path prefix that matches it (Paystack's per-endpoint limits), else the default one.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

_RATE_RE = re.compile(r"(\d{1,7})\s*/\s*(\d{1,5})\s*(s|m|h)?")
_UNIT = {"s": 1, "m": 60, "h": 3600}
MAX_WAIT_STEP_S = 1.0  # re-ask the bucket at least this often (another process may have given up)
MIN_WAIT_STEP_S = 0.001
REDIS_RETRY_S = 30.0  # how long a process limits itself alone after Redis failed
_EPSILON = 1e-6


@dataclass(frozen=True)
class Rate:
    limit: int  # requests
    window_s: float  # per this many seconds

    @property
    def burst(self) -> int:
        return max(1, self.limit // 10)

    @property
    def refill_per_s(self) -> float:
        return (self.limit - self.burst) / self.window_s

    def __str__(self) -> str:
        return f"{self.limit}/{self.window_s:g}s"


def parse_rate(text: str) -> Rate:
    """`100/60s`, `600/1m`, `10/10` (seconds) -> Rate; ValueError otherwise."""
    match = _RATE_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a rate: {text[:40]!r} (expected e.g. 100/60s)")
    limit, window = int(match.group(1)), int(match.group(2)) * _UNIT[match.group(3) or "s"]
    if limit < 2 or not 1 <= window <= 86400:
        raise ValueError(f"{text.strip()!r} is out of range: at least 2 requests, a window of 1s to 24h")
    return Rate(limit, float(window))


def parse_rate_table(text: str) -> dict[str, Rate]:
    """`/transaction/verify=1500/60s, /refund=100/60s` -> {path prefix: Rate}."""
    table: dict[str, Rate] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        prefix, sep, rate = part.partition("=")
        prefix = prefix.strip()
        if not sep or not prefix.startswith("/") or any(ch.isspace() for ch in prefix) or len(prefix) > 200:
            raise ValueError(f"not PATH=RATE: {part[:60]!r} (expected e.g. /transaction/verify=1500/60s)")
        table[prefix.rstrip("/") or "/"] = parse_rate(rate)
    return table


# Paystack's documented limits (reference section 7, a beta docs page): per integration, per 60 s.
PAYSTACK_LIMITS = {"test": 100, "live": 600}
PAYSTACK_LIVE_ENDPOINT_LIMITS = {
    "/transaction/verify": 3000,
    "/transaction/initialize": 1200,
    "/transaction/charge_authorization": 1200,
}
SHARE = 2  # proaudit takes half: the billing app spends the same integration's quota


def default_rates(mode: str | None) -> tuple[Rate, dict[str, Rate]]:
    """Half of Paystack's documented limits for the key's mode (no prefix: treated as test)."""
    if mode == "live":
        endpoints = {p: Rate(n // SHARE, 60.0) for p, n in PAYSTACK_LIVE_ENDPOINT_LIMITS.items()}
        return Rate(PAYSTACK_LIMITS["live"] // SHARE, 60.0), endpoints
    return Rate(PAYSTACK_LIMITS["test"] // SHARE, 60.0), {}


class Buckets(Protocol):
    label: str

    def take(self, name: str, rate: Rate) -> float:
        """Take a token: 0.0 if taken, else the seconds until one is due (nothing taken)."""
        ...


class LocalBuckets:
    """Per-process buckets (no Redis): thread-safe, on an injectable monotonic clock."""

    label = "this process"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, name: str, rate: Rate) -> float:
        with self._lock:
            now = self._clock()
            tokens, stamp = self._state.get(name, (float(rate.burst), now))
            tokens = min(float(rate.burst), tokens + max(0.0, now - stamp) * rate.refill_per_s)
            if tokens >= 1.0 - _EPSILON:  # float dust must not leave a caller waiting nanoseconds forever
                self._state[name] = (max(0.0, tokens - 1.0), now)
                return 0.0
            self._state[name] = (tokens, now)
            return (1.0 - tokens) / rate.refill_per_s


# KEYS[1] the bucket; ARGV burst, refill per second, key TTL in ms. The clock is Redis's own
# (TIME), so processes on hosts with different clocks share one bucket correctly.
_TAKE = """
local burst = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * refill) end
local wait = 0
if tokens >= 0.999999 then tokens = math.max(0, tokens - 1) else wait = (1 - tokens) / refill end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return string.format('%.6f', wait)
"""


class RedisBuckets:
    """Buckets shared by every process that uses this Redis; on a Redis failure, this process's own."""

    def __init__(self, client: redis.Redis, namespace: str, label: str) -> None:
        self._client = client
        self._namespace = namespace
        self.label = label
        self._script = client.register_script(_TAKE)
        self._fallback = LocalBuckets()
        self._warned = False
        self._local_until = 0.0  # after a Redis failure, don't pay its timeout on every request

    def take(self, name: str, rate: Rate) -> float:
        import redis

        if time.monotonic() < self._local_until:
            return self._fallback.take(name, rate)
        key = f"{self._namespace}:{name}"
        ttl_ms = int(rate.window_s * 2000) + 1000  # an idle bucket is full again long before it expires
        try:
            raw = self._script(keys=[key], args=[rate.burst, repr(rate.refill_per_s), ttl_ms])
        except redis.RedisError as exc:
            self._local_until = time.monotonic() + REDIS_RETRY_S
            if not self._warned:
                self._warned = True
                log.info("Redis rate limit unavailable (%s): limiting this process only", type(exc).__name__)
            return self._fallback.take(name, rate)
        return float(raw.decode() if isinstance(raw, bytes) else raw)


class PaystackLimiter:
    """Called by the Paystack client before every request: blocks until the bucket allows it."""

    def __init__(
        self,
        buckets: Buckets,
        default: Rate,
        endpoints: dict[str, Rate] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.buckets = buckets
        self.default = default
        self.endpoints = dict(endpoints or {})
        self._prefixes = sorted(self.endpoints, key=len, reverse=True)
        self._sleep = sleep
        self.waited_s = 0.0

    def rate_for(self, path: str) -> tuple[str, Rate]:
        for prefix in self._prefixes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return prefix, self.endpoints[prefix]
        return "default", self.default

    def __call__(self, method: str, path: str) -> None:
        name, rate = self.rate_for(path)
        while True:
            wait = self.buckets.take(name, rate)
            if wait <= 0:
                return
            step = min(max(wait, MIN_WAIT_STEP_S), MAX_WAIT_STEP_S)
            self.waited_s += step
            self._sleep(step)

    def describe(self) -> str:
        extra = "".join(f", {p} {r}" for p, r in self.endpoints.items())
        return f"{self.default}{extra} ({self.buckets.label})"
