"""A small key-value store with expiry: Redis in production, a SQLite file in the sandbox.

Both give the same semantics to the maintenance flags: values with a time to live in
milliseconds, and `swap`, an atomic compare-and-set over a few keys (Redis WATCH/MULTI/EXEC; a
SQLite write transaction), so that setting a flag, its message and the saved previous values is
one step a crash cannot split.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from proaudit_ops.errors import RedisUnavailable
from proaudit_ops.redact import mask_url

if TYPE_CHECKING:
    import redis

# A change: (value, ttl_ms) sets the key (ttl_ms None: no expiry, only to restore such a value);
# None deletes it.
Change = tuple[str, int | None] | None


@dataclass(frozen=True)
class Entry:
    value: str | None  # None: the key does not exist
    ttl_ms: int | None  # remaining time to live; None: no expiry (or no key)


class KVStore(Protocol):
    label: str  # where the keys live, for humans (passwords masked)

    def read(self, keys: Iterable[str]) -> dict[str, Entry]: ...

    def swap(self, expect: Mapping[str, str | None], changes: Mapping[str, Change]) -> bool:
        """Apply `changes` only if every key in `expect` still has that value; False otherwise."""
        ...

    def now_ms(self) -> int: ...

    def ping(self) -> float:
        """Round trip in milliseconds."""
        ...

    def close(self) -> None: ...


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class RedisStore:
    def __init__(self, url: str, *, timeout_s: float = 3.0) -> None:
        from proaudit_ops.kv.redis_client import connect

        self._url = url
        self.label = f"Redis {mask_url(url)}"
        self.client: redis.Redis = connect(url, timeout_s=timeout_s)

    def _unavailable(self, exc: BaseException) -> RedisUnavailable:
        return RedisUnavailable(
            f"cannot reach Redis at {mask_url(self._url)}: {type(exc).__name__}",
            hint="check PROAUDIT_REDIS_URL and that Redis is up (redis-cli ping)",
        )

    def read(self, keys: Iterable[str]) -> dict[str, Entry]:
        import redis

        names = list(keys)
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for key in names:
                    pipe.get(key)
                    pipe.pttl(key)
                raw = pipe.execute()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from None
        out: dict[str, Entry] = {}
        for i, key in enumerate(names):
            value, ttl = _text(raw[2 * i]), int(raw[2 * i + 1])
            out[key] = Entry(value, ttl if value is not None and ttl >= 0 else None)
        return out

    def swap(self, expect: Mapping[str, str | None], changes: Mapping[str, Change]) -> bool:
        import redis

        keys = sorted({*expect, *changes})
        try:
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(*keys)  # type: ignore[no-untyped-call]
                    for key, wanted in expect.items():
                        if _text(pipe.get(key)) != wanted:
                            return False
                    pipe.multi()
                    for key, change in changes.items():
                        if change is None:
                            pipe.delete(key)
                        elif change[1] is None:
                            pipe.set(key, change[0])
                        else:
                            pipe.set(key, change[0], px=max(1, change[1]))
                    pipe.execute()
                except redis.WatchError:
                    return False
        except redis.RedisError as exc:
            raise self._unavailable(exc) from None
        return True

    def now_ms(self) -> int:
        import redis

        try:
            seconds, micros = self.client.time()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from None
        return int(seconds) * 1000 + int(micros) // 1000

    def ping(self) -> float:
        import redis

        started = time.monotonic()
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from None
        return (time.monotonic() - started) * 1000

    def close(self) -> None:
        self.client.close()


_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_ms INTEGER)"


class LocalStore:
    """The sandbox's stand-in for Redis: a SQLite file in the tool's home, same semantics.

    An expired key reads as absent (and is purged on the next write), like Redis's lazy expiry.
    """

    def __init__(self, path: Path, *, clock_ms: Callable[[], int] | None = None) -> None:
        self.path = path
        self.label = f"local stand-in {path}"
        self._clock = clock_ms or (lambda: int(time.time() * 1000))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Built in one thread (a health probe) and closed in another: calls are never concurrent.
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute(_SCHEMA)

    def now_ms(self) -> int:
        return self._clock()

    def _live(self, keys: list[str], now: int) -> dict[str, Entry]:
        out = {key: Entry(None, None) for key in keys}
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT key, value, expires_ms FROM kv WHERE key IN ({marks})", keys)
        for key, value, expires in rows:
            if expires is None:
                out[key] = Entry(value, None)
            elif expires > now:
                out[key] = Entry(value, expires - now)
        return out

    def read(self, keys: Iterable[str]) -> dict[str, Entry]:
        names = list(keys)
        return self._live(names, self._clock()) if names else {}

    def swap(self, expect: Mapping[str, str | None], changes: Mapping[str, Change]) -> bool:
        now = self._clock()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            current = self._live(sorted({*expect, *changes}), now)
            if any(current[key].value != wanted for key, wanted in expect.items()):
                self._db.execute("ROLLBACK")
                return False
            self._db.execute("DELETE FROM kv WHERE expires_ms IS NOT NULL AND expires_ms <= ?", (now,))
            for key, change in changes.items():
                if change is None:
                    self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
                else:
                    expires = None if change[1] is None else now + max(1, change[1])
                    self._db.execute(
                        "INSERT OR REPLACE INTO kv (key, value, expires_ms) VALUES (?, ?, ?)", (key, change[0], expires)
                    )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return True

    def ping(self) -> float:
        started = time.monotonic()
        self._db.execute("SELECT 1").fetchone()
        return (time.monotonic() - started) * 1000

    def close(self) -> None:
        self._db.close()
