"""Time of `proaudit audit verify` at 10,000 and 100,000 audit records, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/audit_verify.py [--records 10000 100000]
     [--database-url postgresql://postgres@127.0.0.1:5432/test] [--profile]

Each size gets a fresh database holding a real chain (records built by the audit log's own
builder, shaped like a payment fix: a before/after row, external ids). Three figures per size:
the chain walk in process (`verify_chain`), the real command in a subprocess (`proaudit --json
audit verify`, wall and CPU, start-up included), and `audit checkpoint` (the same walk, then a
signed head). PostgreSQL runs when --database-url names a reachable server (a throw-away
database is created there and dropped). Figures are printed, never asserted; the target is
100,000 records in at most 3 s. --profile prints where the in-process walk spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from _sandbox import cli_env, fresh_postgres, run_cli, table
from sqlalchemy import Engine, insert

from proaudit_ops.audit.canonical import GENESIS_HASH
from proaudit_ops.audit.log import _build, _row
from proaudit_ops.audit.verify import verify_chain
from proaudit_ops.db.engine import create_schema, make_engine, read_only
from proaudit_ops.db.schema import ops_audit_log
from proaudit_ops.timeutil import utcnow

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 5000


def fill(engine: Engine, records: int) -> float:
    """A valid chain of `records` records; returns the seconds it took."""
    start = time.perf_counter()
    prev = GENESIS_HASH
    first = utcnow() - timedelta(days=2)
    rows = []
    for seq in range(1, records + 1):
        reference = f"PSK-BENCH-{seq:07d}"
        record = _build(
            seq,
            prev,
            ts=first + timedelta(milliseconds=seq),
            actor="bench (os:bench)",
            host="ops-host-1",
            command=f"proaudit --incident INC-9 payments verify {reference} --fix --yes",
            incident="INC-9",
            action="payments.fix",
            target=reference,
            before=[{"reference": reference, "status": "pending", "amount_kobo": 1_500_000, "paid_at": None}],
            after=[
                {
                    "reference": reference,
                    "status": "success",
                    "amount_kobo": 1_500_000,
                    "paid_at": "2026-12-01T10:00:00.000000Z",
                    "gateway_response": "Approved",
                }
            ],
            outcome="applied",
            external_ids={"paystack_transaction_id": 4_000_000_000 + seq},
        )
        rows.append(_row(record))
        prev = record.hash
        if len(rows) == BATCH:
            with engine.begin() as conn:
                conn.execute(insert(ops_audit_log), rows)
            rows = []
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(ops_audit_log), rows)
    return time.perf_counter() - start


@contextmanager
def sqlite_db(folder: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite+pysqlite:///{folder / 'billing.db'}"
    engine = make_engine(url)
    create_schema(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()


def measure(name: str, url: str, engine: Engine, records: int, home: Path, profile: bool) -> list[str]:
    built = fill(engine, records)
    start, cpu = time.perf_counter(), time.process_time()
    with read_only(engine) as conn:
        if profile:
            profiler = cProfile.Profile()
            result = profiler.runcall(verify_chain, conn)
        else:
            result = verify_chain(conn)
    walk, walk_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.ok and result.checked == records, result
    env = cli_env(database_url=url, paystack_url="http://127.0.0.1:9", home=home)
    command = run_cli(["audit", "verify"], env, timeout_s=600)
    signed = run_cli(["audit", "checkpoint"], env, timeout_s=600)
    if profile:
        print(f"-- {name}, {records:,} records: where the walk spends its time")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    status = (
        "ok" if command.exit_code == 0 and signed.exit_code == 0 else f"exit {command.exit_code}/{signed.exit_code}"
    )
    return [
        name,
        f"{records:,}",
        f"{built:.1f}",
        f"{walk:.2f}",
        f"{walk_cpu:.2f}",
        f"{command.elapsed_s:.2f}",
        f"{command.cpu_s:.2f}",
        f"{signed.elapsed_s:.2f}",
        status,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="a PostgreSQL server ('' to skip)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    rows: list[list[str]] = []
    for records in args.records:
        with tempfile.TemporaryDirectory(prefix="proaudit-bench-") as tmp, sqlite_db(Path(tmp)) as (url, engine):
            rows.append(measure("sqlite", url, engine, records, Path(tmp) / "home", args.profile))
        if args.database_url:
            try:
                with (
                    tempfile.TemporaryDirectory(prefix="proaudit-bench-") as tmp,
                    fresh_postgres(args.database_url, now=utcnow()) as (url, engine),
                ):
                    rows.append(measure("postgresql", url, engine, records, Path(tmp) / "home", args.profile))
            except Exception as exc:  # no server: SQLite figures only
                print(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    headers = ["database", "records", "build s", "walk s", "walk cpu", "verify s", "verify cpu", "checkpoint s", ""]
    print(table(headers, rows))
    print("walk: verify_chain in process; verify: `proaudit --json audit verify` in a subprocess (start-up")
    print("included); checkpoint: `audit checkpoint` (the same walk, then the signed head). Target: 100,000 in <= 3 s.")


if __name__ == "__main__":
    main()
