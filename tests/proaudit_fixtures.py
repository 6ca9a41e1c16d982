"""Shared test helpers (a uniquely named module; the root conftest exposes its fixtures).

- `Ran` / `Invoke`: what the root conftest's in-process `proaudit` fixture returns.
- `Served`: PostgreSQL billing tables (seeded) beside the simulator served by
  `proaudit sandbox serve` in another process on a free loopback port; `.run(*args)` runs the CLI
  as a real subprocess against both. The `served` fixture starts one without faults;
  `serve_sandbox(server_env={...})` starts one with the given server environment
  (`PROAUDIT_SIM_*` random faults, `PROAUDIT_SIM_REQUEST_LOG`, ...).
"""

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


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]


Invoke = Callable[..., Ran]


@dataclass
class Served:
    """PostgreSQL billing tables (seeded) and the simulator served from `sim_db` at `url`."""

    url: str
    env: dict[str, str]
    billing: Engine
    sim: Engine
    sim_db: Path
    request_log: Path | None = None

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

    def sim_charges(self, prefix: str = "DUN-") -> dict[str, list[dict[str, Any]]]:
        """The simulator's transactions whose reference starts with `prefix`, by reference."""
        from proaudit_ops.sandbox.state import sim_transactions as st

        with self.sim.connect() as conn:
            rows = conn.execute(select(st).where(st.c.reference.startswith(prefix)).order_by(st.c.id)).mappings()
            found: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                found.setdefault(str(r["reference"]), []).append(dict(r))
            return found

    def requests(self) -> list[dict[str, Any]]:
        """Every request the simulator answered (its request log), in arrival order."""
        assert self.request_log is not None, "serve with request_log=True"
        if not self.request_log.exists():
            return []
        lines = self.request_log.read_text().splitlines()
        return sorted((json.loads(line) for line in lines if line.strip()), key=lambda r: float(r["received"]))

    def payment(self, reference: str) -> dict[str, Any]:
        with self.billing.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM payment_transactions WHERE reference = :r"), {"r": reference}
            ).mappings()
            return dict(row.one())

    def intents(self) -> list[dict[str, Any]]:
        with self.billing.connect() as conn:
            return [dict(r) for r in conn.execute(text("SELECT * FROM ops_intents ORDER BY created_at")).mappings()]


ServeSandbox = Callable[..., Served]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve_sandbox(pg_engine: Engine, pg_url: str, isolated_env: Path, tmp_path: Path) -> Iterator[ServeSandbox]:
    """serve_sandbox(server_env=None, request_log=False) -> Served (one per test).

    The billing tables on PostgreSQL are seeded; the server process gets only `server_env` of
    the `PROAUDIT_SIM_*` settings (the test's own are stripped), the CLI runs get none.
    """
    from proaudit_ops.db.engine import make_engine
    from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY
    from proaudit_ops.sandbox.home import ensure_sandbox, sandbox_url
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    servers: list[subprocess.Popen[bytes]] = []
    engines: list[Engine] = []

    def start(server_env: dict[str, str] | None = None, *, request_log: bool = False) -> Served:
        assert not servers, "one served sandbox per test"
        seed_billing(pg_engine, now=utcnow())
        serve_home = tmp_path / "serve-home"
        serve_home.mkdir()
        sim_db = serve_home / "sandbox.db"
        ensure_sandbox(sim_db).dispose()
        log = serve_home / "requests.jsonl" if request_log else None
        port = _free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith("PROAUDIT_SIM_")}
        extra = {**(server_env or {}), **({"PROAUDIT_SIM_REQUEST_LOG": str(log)} if log else {})}
        server = subprocess.Popen(
            [sys.executable, "-m", "proaudit_ops", "sandbox", "serve", "--port", str(port)],
            env={**base, **extra, "PROAUDIT_HOME": str(serve_home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers.append(server)
        url = f"http://127.0.0.1:{port}"
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
        engines.append(sim)
        return Served(url, env, pg_engine, sim, sim_db, log)

    try:
        yield start
    finally:
        for sim in engines:
            sim.dispose()
        for server in servers:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def served(serve_sandbox: ServeSandbox) -> Served:
    """PostgreSQL (seeded) + `proaudit sandbox serve` without faults, the CLI as a subprocess."""
    return serve_sandbox()
