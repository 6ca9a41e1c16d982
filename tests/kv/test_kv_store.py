"""The key-value store: Redis and the sandbox's SQLite stand-in have the same semantics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proaudit_ops.kv.store import Entry, KVStore, LocalStore, RedisStore


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture(params=["redis", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    kv: KVStore
    if request.param == "redis":
        kv = RedisStore(request.getfixturevalue("redis_url"))
    else:
        kv = LocalStore(tmp_path / "kv.sqlite")
    yield kv
    kv.close()


def test_set_with_ttl_read_and_delete(store: KVStore) -> None:
    assert store.read(["a", "b"]) == {"a": Entry(None, None), "b": Entry(None, None)}
    assert store.swap({"a": None}, {"a": ("1", 60_000), "b": ("2", None)})
    got = store.read(["a", "b"])
    assert got["a"].value == "1" and got["a"].ttl_ms is not None and 55_000 < got["a"].ttl_ms <= 60_000
    assert got["b"] == Entry("2", None)
    assert store.swap({"a": "1"}, {"a": None, "b": None})
    assert store.read(["a", "b"]) == {"a": Entry(None, None), "b": Entry(None, None)}


def test_swap_refuses_when_a_key_changed(store: KVStore) -> None:
    assert store.swap({}, {"k": ("mine", 60_000)})
    assert not store.swap({"k": None}, {"k": ("theirs", 60_000)})  # expected absent, is there
    assert not store.swap({"k": "other"}, {"k": None})
    assert store.read(["k"])["k"].value == "mine"


def test_keys_expire_by_themselves(store: KVStore) -> None:
    assert store.swap({}, {"short": ("x", 300)})
    deadline = time.monotonic() + 5
    while store.read(["short"])["short"].value is not None:
        assert time.monotonic() < deadline, "the key never expired"
        time.sleep(0.05)


def test_local_expiry_follows_its_clock(tmp_path: Path) -> None:
    clock = Clock()
    store = LocalStore(tmp_path / "kv.sqlite", clock_ms=clock)
    try:
        store.swap({}, {"m": ("true", 1000)})
        clock.ms += 999
        assert store.read(["m"])["m"] == Entry("true", 1)
        clock.ms += 1
        assert store.read(["m"])["m"] == Entry(None, None)
        # An expired key counts as absent for the compare, as Redis would see it.
        assert store.swap({"m": None}, {"m": ("again", 1000)})
    finally:
        store.close()


def test_a_dead_redis_is_exit_3_with_the_password_masked() -> None:
    from proaudit_ops.errors import RedisUnavailable

    store = RedisStore("redis://:hunter2secret@127.0.0.1:1/0", timeout_s=0.5)
    with pytest.raises(RedisUnavailable) as err:
        store.read(["maintenance_mode"])
    assert "hunter2secret" not in err.value.message and "127.0.0.1:1" in err.value.message
