"""The sandbox file: created and seeded exactly once, reset on demand."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from proaudit_ops.db.schema import organizations, payment_transactions
from proaudit_ops.errors import ConfigError
from proaudit_ops.sandbox.home import (
    SCHEMA_FINGERPRINT,
    ensure_sandbox,
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
        assert first.organizations == 17
        assert first.payments_by_status["pending"] == 7
        assert first.inbox_by_status == {"failed": 3, "processed": 19}
        assert first.paystack_by_status["reversed"] == 2
        assert first.refunds == 3
        assert "PSK-STUCK-0001" in first.references
    finally:
        engine.dispose()
    again = ensure_sandbox(path)
    try:
        second = sandbox_summary(again, path)
        assert second.seeded_at == first.seeded_at
        assert _count(again, organizations) == 17
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
        assert _count(engines[0], organizations) == 17
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
