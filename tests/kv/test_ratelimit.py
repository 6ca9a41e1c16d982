"""The Paystack token bucket: never more than the limit in any window, shared through Redis."""

from __future__ import annotations

import httpx
import pytest

from proaudit_ops.kv.ratelimit import (
    LocalBuckets,
    PaystackLimiter,
    Rate,
    RedisBuckets,
    default_rates,
    parse_rate,
    parse_rate_table,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def max_in_window(stamps: list[float], window: float) -> int:
    j, best = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize("limit", [2, 10, 60, 100, 600])
def test_greedy_caller_never_exceeds_the_limit_in_any_window(limit: int) -> None:
    fake = FakeTime()
    limiter = PaystackLimiter(LocalBuckets(fake.clock), Rate(limit, 60.0), sleep=fake.sleep)
    stamps = []
    for _ in range(limit * 5):
        limiter("GET", "/transaction")
        stamps.append(fake.now)
    assert max_in_window(stamps, 60.0) <= limit
    # ... and not needlessly slow: the sustained rate is 90% of the limit (the burst is the other 10%).
    assert stamps[-1] - stamps[0] <= 60.0 * (5 * limit) / (limit - max(1, limit // 10)) + 1e-6


def test_parse_rate_and_table() -> None:
    assert parse_rate("100/60s") == Rate(100, 60.0)
    assert parse_rate("600/1m") == Rate(600, 60.0)
    assert parse_rate("10/10") == Rate(10, 10.0)
    for bad in ("", "100", "1/60s", "100/0s", "abc/60s", "100/2d", "100/100000h"):
        with pytest.raises(ValueError, match=r"rate|range"):
            parse_rate(bad)
    table = parse_rate_table("/transaction/verify=1500/60s, /refund/=40/60s")
    assert table == {"/transaction/verify": Rate(1500, 60.0), "/refund": Rate(40, 60.0)}
    for bad in ("verify=10/60s", "/x", "/a b=10/60s"):
        with pytest.raises(ValueError, match=r"PATH=RATE|rate"):
            parse_rate_table(bad)


def test_defaults_are_half_of_paystacks_documented_limits() -> None:
    assert default_rates("test") == (Rate(50, 60.0), {})
    live, endpoints = default_rates("live")
    assert live == Rate(300, 60.0)
    assert endpoints["/transaction/verify"] == Rate(1500, 60.0)
    assert endpoints["/transaction/charge_authorization"] == Rate(600, 60.0)


def test_the_longest_matching_prefix_picks_the_bucket() -> None:
    limiter = PaystackLimiter(
        LocalBuckets(), Rate(50, 60.0), {"/transaction": Rate(20, 60.0), "/transaction/verify": Rate(90, 60.0)}
    )
    assert limiter.rate_for("/transaction/verify/REF-1") == ("/transaction/verify", Rate(90, 60.0))
    assert limiter.rate_for("/transaction") == ("/transaction", Rate(20, 60.0))
    assert limiter.rate_for("/transactionx") == ("default", Rate(50, 60.0))
    assert limiter.rate_for("/refund") == ("default", Rate(50, 60.0))


def test_redis_buckets_are_shared_between_limiters(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        rate = Rate(10, 60.0)  # burst 1: the second take must wait, whichever limiter asks
        first, second = RedisBuckets(client, "t:rate", "redis"), RedisBuckets(client, "t:rate", "redis")
        assert first.take("default", rate) == 0.0
        wait = second.take("default", rate)
        assert 0 < wait <= 60.0 / 9 + 0.01
        assert client.pttl("t:rate:default") > 0  # the bucket itself expires when idle
    finally:
        client.close()


def test_redis_down_falls_back_to_this_process() -> None:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.3)
    buckets = RedisBuckets(client, "t:rate", "redis")
    rate = Rate(10, 60.0)
    assert buckets.take("default", rate) == 0.0
    assert buckets.take("default", rate) > 0  # still limited, locally


def test_the_client_asks_the_limiter_before_every_request_retries_included() -> None:
    from proaudit_ops.paystack import PaystackClient

    calls: list[tuple[str, str]] = []
    answers = iter([httpx.Response(503), httpx.Response(200, json={"status": True, "data": [], "meta": {}})])
    transport = httpx.MockTransport(lambda request: next(answers))
    with PaystackClient(
        "sk_test_abc", transport=transport, sleep=lambda s: None, limiter=lambda m, p: calls.append((m, p))
    ) as client:
        client.list_transactions_page(per_page=1)
    assert calls == [("GET", "/transaction"), ("GET", "/transaction")]


def _limiter(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> PaystackLimiter | None:
    from proaudit_ops.config import load_settings
    from proaudit_ops.runtime import Runtime

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with Runtime(load_settings()) as runtime:
        return runtime.paystack_limiter()


def test_the_runtime_builds_the_limiter_from_the_settings(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY

    assert _limiter({}, monkeypatch) is None  # the in-process sandbox simulator has no quota
    assert _limiter({"PAYSTACK_SECRET_KEY": SANDBOX_SECRET_KEY}, monkeypatch) is None  # `sandbox serve`
    live = _limiter({"PAYSTACK_SECRET_KEY": "sk_live_" + "a" * 40, "PAYSTACK_SANDBOX_MODE": "false"}, monkeypatch)
    assert live is not None and live.default == Rate(300, 60.0)
    assert live.rate_for("/transaction/verify/R")[1] == Rate(1500, 60.0)
    assert isinstance(live.buckets, LocalBuckets)  # no Redis: this process only
    shared = _limiter(
        {
            "PAYSTACK_SECRET_KEY": "sk_test_" + "a" * 40,
            "PAYSTACK_SANDBOX_MODE": "true",
            "PROAUDIT_REDIS_URL": redis_url,
            "PROAUDIT_PAYSTACK_RATE_LIMIT": "30/60s",
            "PROAUDIT_PAYSTACK_RATE_LIMITS": "/refund=10/60s",
        },
        monkeypatch,
    )
    assert shared is not None and isinstance(shared.buckets, RedisBuckets)
    assert shared.default == Rate(30, 60.0) and shared.endpoints == {"/refund": Rate(10, 60.0)}


def test_a_bad_rate_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from proaudit_ops.config import load_settings
    from proaudit_ops.errors import ConfigError

    monkeypatch.setenv("PROAUDIT_PAYSTACK_RATE_LIMIT", "lots")
    with pytest.raises(ConfigError, match="PROAUDIT_PAYSTACK_RATE_LIMIT"):
        load_settings()
