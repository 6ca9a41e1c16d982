"""Fixtures for the refund tests: the CLI in-process on the sandbox, and PostgreSQL beside a served
simulator (`proaudit sandbox serve` in a subprocess on a loopback port) for the reliability proof."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]


Invoke = Callable[..., Ran]


@pytest.fixture
def proaudit() -> Invoke:
    """proaudit(*args, env=...) in-process against the sandbox (the autouse isolated home)."""
    from proaudit_ops.cli.app import app

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Ran:
        result = CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


@dataclass
class Served:
    """PostgreSQL billing tables (seeded) and the simulator served from `sim_db` at `url`."""

    url: str
    env: dict[str, str]
    billing: Engine
    sim: Engine
    sim_db: Path

    def run(
        self, *args: str, extra: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "proaudit_ops", *args],
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def sim_refunds(self, reference: str) -> list[dict[str, Any]]:
        from proaudit_ops.sandbox.state import sim_refunds

        with self.sim.connect() as conn:
            rows = conn.execute(
                select(sim_refunds).where(sim_refunds.c.transaction_reference == reference).order_by(sim_refunds.c.id)
            )
            return [dict(r) for r in rows.mappings()]

    def payment(self, reference: str) -> dict[str, Any]:
        with self.billing.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM payment_transactions WHERE reference = :r"), {"r": reference}
            ).mappings()
            return dict(row.one())

    def intents(self) -> list[dict[str, Any]]:
        with self.billing.connect() as conn:
            return [dict(r) for r in conn.execute(text("SELECT * FROM ops_intents ORDER BY created_at")).mappings()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(pg_engine: Engine, pg_url: str, isolated_env: Path, tmp_path: Path) -> Iterator[Served]:
    from proaudit_ops.db.engine import make_engine
    from proaudit_ops.sandbox.home import ensure_sandbox, sandbox_url
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    seed_billing(pg_engine, now=utcnow())
    serve_home = tmp_path / "serve-home"
    serve_home.mkdir()
    sim_db = serve_home / "sandbox.db"
    ensure_sandbox(sim_db).dispose()
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROAUDIT_SIM_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "proaudit_ops", "sandbox", "serve", "--port", str(port)],
        env={**base, "PROAUDIT_HOME": str(serve_home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the served simulator did not start")
            time.sleep(0.1)
        env = {
            **base,
            "DATABASE_URL": pg_url,
            "PAYSTACK_SECRET_KEY": SANDBOX_SECRET_KEY,
            "PAYSTACK_BASE_URL": url,
            "PROAUDIT_HOME": str(isolated_env),
            "PAYSTACK_MAX_RETRIES": "0",
            "PAYSTACK_TIMEOUT_SECONDS": "5",
        }
        sim = make_engine(sandbox_url(sim_db))
        try:
            yield Served(url, env, pg_engine, sim, sim_db)
        finally:
            sim.dispose()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
