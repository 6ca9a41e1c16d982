"""`proaudit reconcile --date D` at 20,000 and 200,000 transactions a day: elapsed time against the
time to merely download the same pages with the same client, and the peak memory of each.

Run: .venv/bin/python bench/reconcile.py [--sizes 20000 200000] [--source api]
     [--database-url postgresql://postgres@127.0.0.1:5432/test]

For each size: a fresh sandbox file holds the simulator's transactions for yesterday (UTC), spread
over the day; a throw-away PostgreSQL database holds the billing tables with the matching payment
rows and a realistic share of drift (1% stuck, 0.4% not paid, 0.2% missing here, 0.2% ghosts,
0.1% amount mismatch; every subscription covers what was paid, so paid_not_entitled checks every
paid row and finds none). `sandbox serve` runs on 127.0.0.1 in this process. Both measured commands
run in their own subprocess, each under a small wrapper that reports the child's peak RSS:
  download:  PaystackClient.list_transactions_page over every cursor page of the day (100 a page)
  reconcile: proaudit --json reconcile --date D --source api (stage, compare in SQL, no fix)
Targets (issue 9): reconcile <= 2x download; peak at the largest size <= 1.2x peak at the smallest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _sandbox import SECRET_KEY, cli_env, fresh_postgres, new_sandbox, proaudit_argv, served, table
from sqlalchemy import Engine, text

from proaudit_ops.db.schema import payment_transactions
from proaudit_ops.sandbox.dataset import MONTHLY_PRICE, ORGS, Pay
from proaudit_ops.sandbox.seed import _payment_row, _sim_row
from proaudit_ops.sandbox.state import sim_transactions
from proaudit_ops.timeutil import utcnow

CHUNK = 5_000
FIRST_ID = 6_000_000_000

# The wrapper: runs argv[1:], prints {"rc", "elapsed_s", "peak_rss_mb", "stdout"} (the child's own peak).
WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"rc": proc.returncode, "elapsed_s": elapsed, "peak_rss_mb": peak,
                  "stdout": proc.stdout, "stderr": proc.stderr[-2000:]}))
"""

DOWNLOAD = """
import sys
from datetime import datetime
from proaudit_ops.paystack import PaystackClient
base, key, start, end = sys.argv[1:5]
client = PaystackClient(key, base_url=base, timeout_s=60)
cursor, pages, rows = None, 0, 0
while True:
    page = client.list_transactions_page(from_=datetime.fromisoformat(start), to=datetime.fromisoformat(end),
                                         per_page=100, cursor=cursor, use_cursor=True)
    pages += 1
    rows += len(page.items)
    if not page.items or page.next_cursor is None:
        break
    cursor = page.next_cursor
print(pages, rows)
"""


def kind_of(i: int) -> str:
    if i % 100 == 0:
        return "stuck"
    if i % 250 == 1:
        return "not_paid"
    if i % 500 == 2:
        return "missing_here"
    if i % 500 == 3:
        return "ghost"
    if i % 1000 == 4:
        return "amount"
    return "ok"


def build(size: int, day: datetime, now: datetime, sim_engine: Engine, billing: Engine) -> dict[str, int]:
    """Insert `size` transactions of `day` (simulator) and their payment rows (PostgreSQL), in chunks."""
    expected: dict[str, int] = {}
    span = 86_000
    sims: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    for i in range(size):
        org = ORGS[i % len(ORGS)]
        kind = kind_of(i)
        expected[kind] = expected.get(kind, 0) + 1
        created = day + timedelta(seconds=60 + span * i / size)
        price = MONTHLY_PRICE[org.tier]
        ps = "failed" if kind == "not_paid" else "success"
        db = "pending" if kind in ("stuck", "not_paid") else "success"
        channel = "card" if org.card is not None else "bank_transfer"
        pay = Pay(
            f"DAY-{i:07d}",
            org.slug,
            price * 2 if kind == "amount" else price,
            None if kind == "missing_here" else db,
            None if kind == "ghost" else ps,
            now - created,
            ps_amount=price if kind == "amount" else None,
            entry="transaction_initialize",
            channel=channel,
        )
        sim = _sim_row(pay, org, FIRST_ID + i, now, i) if pay.ps else None
        if sim is not None:
            sims.append(sim)
        if pay.db is not None:
            payments.append(_payment_row(pay, org, sim, now))
        if len(sims) >= CHUNK or i == size - 1:
            with sim_engine.begin() as conn:
                conn.execute(sim_transactions.insert(), sims)
            with billing.begin() as conn:
                conn.execute(payment_transactions.insert(), payments)
            sims, payments = [], []
    with billing.begin() as conn:  # every subscription covers what was paid (tiers as seeded)
        conn.execute(
            text(
                "UPDATE tenant_skus SET is_active = true, trial_ends_at = NULL, current_period_end = "
                "CASE WHEN billing_cycle = 'annual' THEN CAST(:annual AS timestamptz) "
                "ELSE CAST(:monthly AS timestamptz) END"
            ),
            {"annual": now + timedelta(days=400), "monthly": now + timedelta(days=40)},
        )
    return expected


def measured(argv: list[str], env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv], env=env, capture_output=True, text=True, timeout=timeout_s, check=True
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def one_size(size: int, admin_url: str, source: str, timeout_s: float) -> dict[str, Any]:
    now = utcnow().replace(microsecond=0)
    day = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    end = day + timedelta(days=1) - timedelta(milliseconds=1)
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as folder:
        db_path, sim_engine = new_sandbox(Path(folder))
        with fresh_postgres(admin_url, now=now) as (db_url, billing):
            started = time.perf_counter()
            expected = build(size, day, now, sim_engine, billing)
            build_s = time.perf_counter() - started
            with served(db_path, billing_engine=billing) as base:
                env = cli_env(database_url=db_url, paystack_url=base, home=Path(folder) / "home")
                download = measured(
                    [sys.executable, "-c", DOWNLOAD, base, SECRET_KEY, day.isoformat(), end.isoformat()],
                    env,
                    timeout_s,
                )
                args = [*proaudit_argv(), "--json", "reconcile", "--date", f"{day:%Y-%m-%d}", "--source", source]
                reconcile = measured(args, env, timeout_s)
        sim_engine.dispose()
    if reconcile["rc"] not in (0, 1):
        raise SystemExit(f"reconcile failed at {size}: {reconcile['stderr']}")
    data = json.loads(reconcile["stdout"])["data"]
    found = {c["name"]: c["count"] for c in data["categories"] if c["count"]}
    return {
        "size": size,
        "build_s": build_s,
        "download": download,
        "reconcile": reconcile,
        "pages": data["pages"],
        "found": found,
        "expected": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--source", choices=["api", "export"], default="api")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    results = [one_size(size, args.database_url, args.source, args.timeout) for size in args.sizes]
    rows = []
    for r in results:
        down, rec = r["download"], r["reconcile"]
        rows.append(
            [
                f"{r['size']:,}",
                f"{r['pages']:,}",
                f"{down['elapsed_s']:.1f}s",
                f"{rec['elapsed_s']:.1f}s",
                f"{rec['elapsed_s'] / down['elapsed_s']:.2f}x",
                f"{down['peak_rss_mb']:.0f} MB",
                f"{rec['peak_rss_mb']:.0f} MB",
            ]
        )
    print(f"reconcile --date (source {args.source}) vs downloading the same pages, PostgreSQL, {datetime.now(UTC):%F}")
    headers = ["transactions", "pages", "download", "reconcile", "ratio", "download peak", "reconcile peak"]
    print(table(headers, rows))
    for r in results:
        drift = {k: v for k, v in r["expected"].items() if k != "ok"}
        print(f"  {r['size']:,}: built in {r['build_s']:.0f}s; seeded drift {drift}; found {r['found']}")
    if len(results) >= 2:
        small, large = results[0]["reconcile"]["peak_rss_mb"], results[-1]["reconcile"]["peak_rss_mb"]
        print(f"peak memory {results[-1]['size']:,} / {results[0]['size']:,}: {large / small:.2f}x (target <= 1.2x)")
    worst = max(r["reconcile"]["elapsed_s"] / r["download"]["elapsed_s"] for r in results)
    print(f"worst elapsed ratio: {worst:.2f}x the download (target <= 2x)")


if __name__ == "__main__":
    main()
