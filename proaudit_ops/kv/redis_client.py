"""Redis: the shared store for maintenance flags and the cross-process rate limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proaudit_ops.errors import RedisUnavailable
from proaudit_ops.redact import mask_url

if TYPE_CHECKING:
    import redis


def connect(url: str, *, timeout_s: float = 3.0) -> redis.Redis:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)


def ping(url: str, *, timeout_s: float = 3.0) -> None:
    """Raise RedisUnavailable (exit 3) with the password masked when Redis does not answer."""
    import redis

    client = connect(url, timeout_s=timeout_s)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(
            f"cannot reach Redis at {mask_url(url)}: {type(exc).__name__}",
            hint="check PROAUDIT_REDIS_URL and that Redis is up",
        ) from None
    finally:
        client.close()
