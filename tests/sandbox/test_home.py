"""The sandbox file: created and seeded exactly once, reset on demand."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from proaudit_ops.db.schema import organizations, payment_transactions
from proaudit_ops.errors import ConfigError, Refused
from proaudit_ops.sandbox.home import (
    SCHEMA_FINGERPRINT,
    ensure_sandbox,
    lock_path,
    reset_sandbox,
    sandbox_summary,
)
from proaudit_ops.sandbox.state import sim_meta, sim_transactions


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def test_ensure_creates_the_folder_and_seeds_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "home" / "sandbox.db"
    engine = ensure_sandbox(path)
    try:
        assert path.exists()
        first = sandbox_summary(engine, path)
        assert first.organizations == 19
        assert first.payments_by_status["pending"] == 7
        assert first.inbox_by_status == {"failed": 3, "processed": 23, "received": 1}
        assert first.paystack_by_status["reversed"] == 2
        assert first.refunds == 3
        assert "PSK-STUCK-0001" in first.references
    finally:
        engine.dispose()
    again = ensure_sandbox(path)
    try:
        second = sandbox_summary(again, path)
        assert second.seeded_at == first.seeded_at
        assert _count(again, organizations) == 19
        assert _count(again, sim_transactions) == sum(first.paystack_by_status.values())
    finally:
        again.dispose()


def test_racing_processes_seed_once(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    engines: list[Engine] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def racer() -> None:
        try:
            barrier.wait()
            engines.append(ensure_sandbox(path))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    try:
        assert _count(engines[0], organizations) == 19
        with engines[0].connect() as conn:
            assert conn.execute(select(func.count()).select_from(sim_meta)).scalar() == 2
    finally:
        for engine in engines:
            engine.dispose()


def test_reset_rebuilds_from_scratch(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    engine = ensure_sandbox(path)
    with engine.begin() as conn:
        conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.reference == "PSK-STUCK-0001")
            .values(status="success")
        )
    engine.dispose()
    summary = reset_sandbox(path)
    assert summary.path == path
    assert summary.payments_by_status["pending"] == 7
    engine = ensure_sandbox(path)
    try:
        with engine.connect() as conn:
            status = conn.execute(
                select(payment_transactions.c.status).where(payment_transactions.c.reference == "PSK-STUCK-0001")
            ).scalar()
        assert status == "pending"
    finally:
        engine.dispose()


def test_a_sandbox_from_another_version_asks_for_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    engine = ensure_sandbox(path)
    with engine.begin() as conn:
        conn.execute(update(sim_meta).where(sim_meta.c.key == SCHEMA_FINGERPRINT).values(value="old"))
    engine.dispose()
    with pytest.raises(ConfigError, match="another version") as caught:
        ensure_sandbox(path)
    assert caught.value.hint == "run: proaudit sandbox reset"
    reset_sandbox(path)
    ensure_sandbox(path).dispose()


# -- issue 11 §6: a reset never replaces the database under another process ---------------------

HOLDER = """
import sys
from pathlib import Path
from proaudit_ops.sandbox.home import ensure_sandbox
engine = ensure_sandbox(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()  # hold the sandbox until the test closes our stdin
engine.dispose()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process using the sandbox (like a `proaudit sandbox serve`)."""
    path = tmp_path / "sandbox.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield proc
    if proc.poll() is None:
        proc.communicate("", timeout=30)


def test_reset_refuses_while_another_process_uses_the_sandbox(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    path = tmp_path / "sandbox.db"
    with pytest.raises(Refused, match=rf"in use by another proaudit process \(pid {holder.pid}\)") as caught:
        reset_sandbox(path)
    assert caught.value.exit_code == 4
    assert "--force" in (caught.value.hint or "")
    holder.communicate("", timeout=30)  # the other process is done
    assert reset_sandbox(path).in_use_by == []


def test_reset_force_replaces_it_and_names_who_was_using_it(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    summary = reset_sandbox(tmp_path / "sandbox.db", force=True)
    assert summary.in_use_by == [holder.pid]
    assert summary.payments_by_status["pending"] == 7


def test_an_engine_in_this_process_also_holds_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    engine = ensure_sandbox(path)
    with pytest.raises(Refused):
        reset_sandbox(path)
    engine.dispose()  # disposing releases it
    reset_sandbox(path)


def test_users_wait_for_a_reset_and_give_up_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    ensure_sandbox(path).dispose()
    with open(lock_path(path), "a+") as lock:  # a reset in progress holds the lock exclusively
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(Refused, match="being reset"):
            ensure_sandbox(path, wait_s=0.2)
    ensure_sandbox(path).dispose()
