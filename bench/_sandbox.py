"""Shared set-up for the benches: a private sandbox, bulk synthetic rows, a served simulator,
an optional throw-away PostgreSQL database, and timing the real `proaudit` CLI in a subprocess.

Not a benchmark itself (the leading underscore); imported by bench/bulk_verify.py and
bench/retry_failed.py. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

from proaudit_ops.config import normalise_db_url
from proaudit_ops.db.engine import create_schema, make_engine
from proaudit_ops.db.schema import payment_transactions, webhook_events
from proaudit_ops.sandbox import shapes
from proaudit_ops.sandbox.billing_app import BillingApp
from proaudit_ops.sandbox.dataset import (
    MONTHLY_PRICE,
    ORGS,
    SANDBOX_SECRET_KEY,
    Pay,
)
from proaudit_ops.sandbox.faults import AppFaultConfig, FaultConfig
from proaudit_ops.sandbox.home import ensure_sandbox, sandbox_url

# The seeder's row builders: reused so synthetic rows have exactly the seeded shapes.
from proaudit_ops.sandbox.seed import _event, _payment_row, _sim_row, seed_billing
from proaudit_ops.sandbox.serve import _Server, dispatcher, start_background_server
from proaudit_ops.sandbox.simulator import Simulator
from proaudit_ops.sandbox.state import FIRST_TRANSACTION_ID, sim_transactions
from proaudit_ops.timeutil import utcnow

Row = dict[str, Any]
SECRET_KEY = SANDBOX_SECRET_KEY  # an sk_test_ key the simulator accepts and the app signs with
CHECKOUT = "transaction_initialize"
FAILED_ERROR = "HTTP 500: OperationalError: database is locked (bench)"

# Environment that would point the CLI elsewhere: removed before ours is set.
_SCRUB_PREFIXES = ("PAYSTACK_", "PROAUDIT_")
_SCRUB_NAMES = ("DATABASE_URL", "XDG_CONFIG_HOME", "XDG_DATA_HOME")


# -- the sandbox file and synthetic rows -----------------------------------------------------


def new_sandbox(folder: Path) -> tuple[Path, Engine]:
    """A fresh seeded sandbox file in `folder` (billing tables + simulator state)."""
    db_path = folder / "sandbox.db"
    return db_path, ensure_sandbox(db_path)


@dataclass
class Batch:
    """Synthetic payments: pending in the billing DB, success at the simulator."""

    references: list[str] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)
    sim_transactions: list[Row] = field(default_factory=list)
    webhook_events: list[Row] = field(default_factory=list)


def next_sim_id(engine: Engine) -> int:
    with engine.connect() as conn:
        current = conn.execute(select(func.max(sim_transactions.c.id))).scalar()
    return max(FIRST_TRANSACTION_ID, int(current or 0) + 1)


def pending_success_batch(
    count: int,
    *,
    now: datetime,
    first_txn_id: int,
    failed_events: bool = False,
    prefix: str = "BENCH",
) -> Batch:
    """`count` payments created 1-20 hours before `now`, pending in the DB, success at Paystack.

    With `failed_events`, each also gets a failed charge.success inbox row (attempts 1,
    received within the last hour) whose raw_body is the signed event the simulator's row
    renders to, exactly as the seeder builds PSK-STUCK-0002's.
    """
    now = now.replace(microsecond=0)
    batch = Batch()
    span = timedelta(hours=19).total_seconds()
    for i in range(count):
        org = ORGS[i % len(ORGS)]
        ref = f"{prefix}-{i + 1:06d}"
        age = timedelta(hours=1, seconds=int(span * i / max(1, count)))
        inbox = ("failed", 1, FAILED_ERROR) if failed_events else None
        channel = "card" if org.card is not None else "bank_transfer"
        price = MONTHLY_PRICE[org.tier]
        pay = Pay(ref, org.slug, price, "pending", "success", age, entry=CHECKOUT, channel=channel)
        sim = _sim_row(pay, org, first_txn_id + i, now, i)
        batch.references.append(ref)
        batch.sim_transactions.append(sim)
        batch.payments.append(_payment_row(pay, org, sim, now))
        if inbox is not None:
            body = shapes.charge_success_event({**sim, "status": "success"})
            received = now - timedelta(seconds=int(3500 * (count - i) / max(1, count)))
            batch.webhook_events.append(_event("charge.success", ref, body, received, inbox))
    return batch


def insert_billing(bind: Engine, batch: Batch) -> None:
    with bind.begin() as conn:
        conn.execute(payment_transactions.insert(), batch.payments)
        if batch.webhook_events:
            conn.execute(webhook_events.insert(), batch.webhook_events)


def insert_simulator(bind: Engine, batch: Batch) -> None:
    with bind.begin() as conn:
        conn.execute(sim_transactions.insert(), batch.sim_transactions)


def count_pending(bind: Engine, *, older_than: timedelta, since: timedelta) -> int:
    """What `payments stuck --older-than/--since` should list (same filter, counted)."""
    pt = payment_transactions.c
    now = utcnow()
    query = (
        select(func.count())
        .select_from(payment_transactions)
        .where(pt.status == "pending", pt.created_at <= now - older_than)
        .where(pt.created_at >= now - since)
    )
    with bind.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def count_failed_events(bind: Engine, *, hours: int) -> int:
    we = webhook_events.c
    query = (
        select(func.count())
        .select_from(webhook_events)
        .where(we.status == "failed", we.received_at >= utcnow() - timedelta(hours=hours))
    )
    with bind.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


# -- PostgreSQL: a throw-away database --------------------------------------------------------


@contextmanager
def fresh_postgres(admin_url: str, *, now: datetime) -> Iterator[tuple[str, Engine]]:
    """A new database on the server of `admin_url`, with the billing schema and seed; dropped
    afterwards. Yields (the URL to give the CLI, an engine on it)."""
    sa_admin = normalise_db_url(admin_url)
    name = f"proaudit_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(sa_admin, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        engine = make_engine(normalise_db_url(url))
        try:
            create_schema(engine)
            seed_billing(engine, now=now.replace(microsecond=0))
            yield url, engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- the served sandbox -------------------------------------------------------------------------


@contextmanager
def served(
    db_path: Path,
    *,
    latency_ms: int = 0,
    app_latency_ms: int = 0,
    billing_engine: Engine | None = None,
) -> Iterator[str]:
    """`proaudit sandbox serve` in a daemon thread on 127.0.0.1; yields its base URL.

    The billing app writes to the sandbox file, or to `billing_engine` when given (for
    PostgreSQL); start_background_server has no such parameter, so that case builds the
    same server from serve.py's parts.
    """
    faults = FaultConfig(latency_ms=latency_ms)
    app_faults = AppFaultConfig(latency_ms=app_latency_ms)
    if billing_engine is None:
        url, stop = start_background_server(db_path, faults=faults, app_faults=app_faults)
        try:
            yield url
        finally:
            stop()
        return
    sim_engine = ensure_sandbox(db_path)
    app = BillingApp(billing_engine, SECRET_KEY, app_faults, script_engine=sim_engine)
    stop_event = threading.Event()
    server = _Server(("127.0.0.1", 0), stop_event)
    server.set_app(dispatcher(Simulator(sim_engine, faults), app))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop_event.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        sim_engine.dispose()


# -- the CLI in a subprocess -------------------------------------------------------------------


def proaudit_argv() -> list[str]:
    exe = Path(sys.executable).with_name("proaudit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "proaudit_ops"]


def cli_env(*, database_url: str, paystack_url: str, home: Path, app_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_NAMES}
    env.update(
        DATABASE_URL=database_url,
        PAYSTACK_SECRET_KEY=SECRET_KEY,
        PAYSTACK_BASE_URL=paystack_url,
        PROAUDIT_HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),  # no operator config file leaks in
        PROAUDIT_OPERATOR="bench",
    )
    if app_url is not None:
        env["PROAUDIT_APP_BASE_URL"] = app_url
    return env


def sqlite_url(db_path: Path) -> str:
    return sandbox_url(db_path)


@dataclass(frozen=True)
class CliRun:
    argv: list[str]
    elapsed_s: float
    exit_code: int | None  # None: killed at the time limit
    envelope: dict[str, Any] | None
    stderr: str
    cpu_s: float = 0.0  # user + system CPU of the subprocess

    @property
    def data(self) -> dict[str, Any]:
        return (self.envelope or {}).get("data") or {}

    def describe_failure(self) -> str:
        tail = self.stderr.strip().splitlines()[-3:]
        return f"exit {self.exit_code}; stderr: {' | '.join(tail) or '(empty)'}"


def run_cli(args: list[str], env: dict[str, str], *, timeout_s: float) -> CliRun:
    """`proaudit --json ARGS`, wall-clocked with perf_counter around the subprocess."""
    argv = [*proaudit_argv(), "--json", *args]
    before = _children_cpu()
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return CliRun(argv, time.perf_counter() - start, None, None, stderr)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - before
    try:
        envelope = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        envelope = None
    return CliRun(argv, elapsed, proc.returncode, envelope, proc.stderr, cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    """CPU of this process: in the benches, almost all of it is the served sandbox's threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain right-aligned text table."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(lines)
