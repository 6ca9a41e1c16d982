"""Events per second of `proaudit webhooks retry-failed` at concurrency 1 and 8, and their ratio.

Run: .venv/bin/python bench/retry_failed.py [--events 5000] [--concurrency 1 8]
     [--database-url postgresql://postgres@127.0.0.1:5432/test]

Each run gets a freshly built sandbox: E payments pending in the billing DB (success at the
simulator) and, for each, a failed charge.success inbox row (attempts 1, received within the
last hour) holding the real signed event. The served sandbox (simulator + the billing app's
webhook endpoint) runs on 127.0.0.1; the real command redelivers every failed event to it in
a subprocess (--app-latency-ms makes the app as slow as a real one; the default 0 measures
the sandbox's own CPU cost per webhook). With --database-url the billing tables (and the tool's audit log) live in a
throw-away database created on that PostgreSQL server (dropped afterwards) instead of the
sandbox's SQLite file. A --dry-run is timed first: the fixed cost (start-up, reading the inbox).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _sandbox import (
    CliRun,
    cli_env,
    count_failed_events,
    fresh_postgres,
    insert_billing,
    insert_simulator,
    new_sandbox,
    next_sim_id,
    own_cpu,
    pending_success_batch,
    run_cli,
    served,
    sqlite_url,
    table,
)
from sqlalchemy import Engine

from proaudit_ops.timeutil import utcnow

HOURS = 24


@dataclass(frozen=True)
class Prepared:
    db_path: Path  # the sandbox file (simulator state; billing tables too unless PostgreSQL)
    billing_engine: Engine | None  # PostgreSQL only
    database_url: str
    references: set[str]
    expected: int  # failed events in the window: synthetic + seeded
    build_s: float


@contextmanager
def prepared(folder: Path, events: int, pg_admin_url: str | None) -> Iterator[Prepared]:
    start = time.perf_counter()
    now = utcnow()
    db_path, sim_engine = new_sandbox(folder)
    try:
        batch = pending_success_batch(events, now=now, first_txn_id=next_sim_id(sim_engine), failed_events=True)
        insert_simulator(sim_engine, batch)
        if pg_admin_url is None:
            insert_billing(sim_engine, batch)
            expected = count_failed_events(sim_engine, hours=HOURS)
            yield Prepared(
                db_path,
                None,
                sqlite_url(db_path),
                set(batch.references),
                expected,
                time.perf_counter() - start,
            )
            return
        with fresh_postgres(pg_admin_url, now=now) as (url, pg):
            insert_billing(pg, batch)
            expected = count_failed_events(pg, hours=HOURS)
            yield Prepared(db_path, pg, url, set(batch.references), expected, time.perf_counter() - start)
    finally:
        sim_engine.dispose()


def check(run: CliRun, ready: Prepared) -> tuple[list[dict[str, Any]], str | None]:
    """The redeliveries, and what is wrong with them (None = all E delivered with 200)."""
    done: list[dict[str, Any]] = run.data.get("redeliveries") or []
    if run.envelope is None:
        return done, run.describe_failure()
    ok_refs = {
        r.get("reference")
        for r in done
        if (r.get("delivery") or {}).get("status_code") == 200 and r.get("inbox_status") == "processed"
    }
    missing = len(ready.references - ok_refs)
    if missing or len(done) != ready.expected:
        return done, (
            f"{len(done)} redelivered of {ready.expected} failed; {missing} of the "
            f"{len(ready.references)} synthetic events not delivered with 200 and processed"
        )
    return done, None


def measure(folder: Path, concurrency: int, args: argparse.Namespace, *, first: bool) -> tuple[Prepared, CliRun, float]:
    """One fresh build, served, and one timed run: (what was built, the run, server CPU s)."""
    backend = "postgresql" if args.database_url else "sqlite"
    with (
        prepared(folder, args.events, args.database_url) as ready,
        served(ready.db_path, app_latency_ms=args.app_latency_ms, billing_engine=ready.billing_engine) as url,
    ):
        env = cli_env(database_url=ready.database_url, paystack_url=url, home=folder, app_url=url)
        base = ["webhooks", "retry-failed", "--hours", str(HOURS)]
        if first:
            dry = run_cli([*base, "--dry-run"], env, timeout_s=args.timeout)
            print(
                f"{backend}: {args.events} synthetic + {ready.expected - args.events} seeded "
                f"failed events; build {ready.build_s:.1f} s; app latency "
                f"{args.app_latency_ms} ms; fixed cost (--dry-run): {dry.elapsed_s:.2f} s",
                flush=True,
            )
        server_cpu = own_cpu()
        run = run_cli([*base, "--yes", "--concurrency", str(concurrency)], env, timeout_s=args.timeout)
        return ready, run, own_cpu() - server_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="synthetic failed events")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server for the billing DB (a fresh database is created there)",
    )
    parser.add_argument("--app-latency-ms", type=int, default=0, help="billing app latency per webhook")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-run limit, seconds")
    args = parser.parse_args()
    backend = "postgresql" if args.database_url else "sqlite"
    rows: list[list[str]] = []
    rates: dict[int, float] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="proaudit-bench-") as tmp_name:
        for index, concurrency in enumerate(args.concurrency):
            folder = Path(tmp_name) / f"run{index}"
            folder.mkdir()
            ready, run, server_cpu = measure(folder, concurrency, args, first=index == 0)
            done, problem = check(run, ready)
            if problem:
                problems.append(f"concurrency {concurrency}: {problem}")
            deliveries = [r.get("delivery") or {} for r in done]
            ok = sum(1 for d in deliveries if d.get("status_code") == 200)
            latencies = [d["latency_ms"] for d in deliveries if d.get("latency_ms") is not None]
            rate = len(done) / run.elapsed_s if run.elapsed_s else 0.0
            rates[concurrency] = rate
            rows.append(
                [
                    backend,
                    str(concurrency),
                    str(len(done)),
                    f"{ok}/{ready.expected}",
                    f"{run.elapsed_s:.2f}",
                    f"{rate:.0f}",
                    f"{statistics.median(latencies):.0f}" if latencies else "-",
                    f"{run.cpu_s:.1f}",
                    f"{server_cpu:.1f}",
                ]
            )
    headers = ["billing db", "conc", "events", "HTTP 200", "elapsed s", "events/s", "p50 ms"]
    print(table([*headers, "cli cpu s", "server cpu s"], rows))
    first = args.concurrency[0]
    for concurrency in args.concurrency[1:]:
        if rates.get(first):
            print(f"throughput ratio, concurrency {concurrency} vs {first}: {rates[concurrency] / rates[first]:.2f}x")
    print(
        "elapsed = the whole command (start-up, inbox read, deliveries, audit writes); "
        "p50 = median delivery latency seen by the CLI; cpu = user+system seconds"
    )
    for problem in problems:
        print(f"CHECK FAILED: {problem}")


if __name__ == "__main__":
    main()
