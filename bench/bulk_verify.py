"""Wall time of `proaudit payments stuck --verify` over N pending payments vs the ideal.

Run: .venv/bin/python bench/bulk_verify.py [--payments 1000] [--latency-ms 50]
     [--concurrency 8] [--concurrency 1 8]

Builds a private sandbox, adds N payments pending in the billing DB and success at the
simulator (created 1-20 hours ago), serves the simulator on 127.0.0.1 with injected latency,
then times the real command in a subprocess (DATABASE_URL = the sandbox file, PAYSTACK_BASE_URL
= the server). The ideal is items x latency / concurrency; the target is a ratio under 1.5 at
concurrency 8. A run without --verify is timed first: the fixed cost (start-up, DB listing).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path

from _sandbox import (
    CliRun,
    cli_env,
    count_pending,
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

from proaudit_ops.timeutil import utcnow

TARGET_RATIO = 1.5
OLDER_THAN = timedelta(minutes=15)  # the command's default --older-than
SINCE = timedelta(hours=48)


def verified_count(run: CliRun) -> tuple[int, int, int]:
    """(items listed, items with a diagnosis and no error, items with an error)."""
    items = run.data.get("items") or []
    ok = sum(1 for i in items if i.get("diagnosis") and not i.get("error"))
    errors = sum(1 for i in items if i.get("error"))
    return len(items), ok, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=1000, help="synthetic stuck payments")
    parser.add_argument("--latency-ms", type=int, default=50, help="simulator latency per call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8], help="one run per value (e.g. 1 8)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-run limit, seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="proaudit-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db_path, engine = new_sandbox(tmp)
        try:
            batch = pending_success_batch(args.payments, now=utcnow(), first_txn_id=next_sim_id(engine))
            insert_billing(engine, batch)
            insert_simulator(engine, batch)
            expected = count_pending(engine, older_than=OLDER_THAN, since=SINCE)
        finally:
            engine.dispose()
        seeded = expected - args.payments
        print(
            f"sandbox {db_path}: {args.payments} synthetic + {seeded} seeded pending payments "
            f"in the window; simulator latency {args.latency_ms} ms",
            flush=True,
        )
        rows: list[list[str]] = []
        problems: list[str] = []
        with served(db_path, latency_ms=args.latency_ms) as url:
            env = cli_env(database_url=sqlite_url(db_path), paystack_url=url, home=tmp)
            listing = run_cli(["payments", "stuck", "--since", "48h"], env, timeout_s=args.timeout)
            listed = len(listing.data.get("items") or [])
            print(
                f"fixed cost (same command without --verify, {listed} listed): {listing.elapsed_s:.2f} s",
                flush=True,
            )
            for concurrency in args.concurrency:
                argv = ["payments", "stuck", "--verify", "--since", "48h"]
                argv += ["--concurrency", str(concurrency)]
                server_cpu = own_cpu()
                run = run_cli(argv, env, timeout_s=args.timeout)
                server_cpu = own_cpu() - server_cpu
                items, ok, errors = verified_count(run)
                if run.envelope is None or ok != expected:
                    problems.append(
                        f"concurrency {concurrency}: verified {ok} of {expected} expected "
                        f"({errors} errors; {run.describe_failure()})"
                    )
                ideal = items * args.latency_ms / 1000 / concurrency
                ratio = run.elapsed_s / ideal if ideal else float("nan")
                met = "yes" if ratio < TARGET_RATIO else "NO"
                rows.append(
                    [
                        str(concurrency),
                        str(items),
                        f"{ok}/{expected}",
                        str(errors),
                        f"{run.elapsed_s:.2f}",
                        f"{ideal:.2f}",
                        f"{ratio:.2f}",
                        met if concurrency == 8 else f"({met})",
                        f"{run.cpu_s:.1f}",
                        f"{server_cpu:.1f}",
                    ]
                )
        headers = ["conc", "items", "verified", "errors", "elapsed s", "ideal s", "ratio"]
        print(table([*headers, f"<{TARGET_RATIO}", "cli cpu s", "server cpu s"], rows))
        print("ideal = items x latency / concurrency; the target applies at concurrency 8; cpu = user+system seconds")
        for problem in problems:
            print(f"CHECK FAILED: {problem}")


if __name__ == "__main__":
    main()
