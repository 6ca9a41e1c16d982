"""Charges per second of `dunning retry-all` at concurrency 1 and 8 against a slow simulator,
and the ratio to Paystack's live rate limit (600 requests a minute).

Run: .venv/bin/python bench/retry_all.py [--records 40] [--latency-ms 50] [--concurrency 1 8]

Each run gets a private sandbox with N synthetic organizations copied from the seeded Sahel
Agro Cooperative (proaudit_ops/sandbox/dunning_population.py: its subscription, a successful
payment holding a reusable card at the simulator, and an active dunning record due now).
The in-process simulator answers every request after --latency-ms. A charge costs 3 Paystack
requests (the card's authorization, the verify-first lookup of the charge reference, the POST).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REQUESTS_PER_CHARGE = 3
LIVE_LIMIT_PER_S = 600 / 60


def synthesize(db: str, n: int) -> None:
    from proaudit_ops.db.engine import make_engine
    from proaudit_ops.sandbox.dunning_population import add_due_dunning
    from proaudit_ops.sandbox.home import sandbox_url
    from proaudit_ops.timeutil import utcnow

    engine = make_engine(sandbox_url(Path(db)))
    try:
        add_due_dunning(engine, engine, n, due_at=utcnow())
    finally:
        engine.dispose()


def one_run(records: int, latency_ms: int, concurrency: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="proaudit-bench-") as home:
        for name in list(os.environ):
            if name.startswith(("PROAUDIT_", "PAYSTACK_")) or name == "DATABASE_URL":
                del os.environ[name]
        os.environ.update(XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config", PROAUDIT_HOME=f"{home}/p")
        os.environ["PROAUDIT_OPERATOR"] = "bench"
        from proaudit_ops.config import load_settings
        from proaudit_ops.core.dunning.batch import retry_all
        from proaudit_ops.core.dunning.views import dunning_list
        from proaudit_ops.protocols.guard import ApplyOptions
        from proaudit_ops.runtime import Runtime

        with Runtime(load_settings(None, None)) as rt:
            dunning_list(rt, None)  # creates and seeds the private sandbox
        db = str(next(Path(home).rglob("sandbox.db")))
        synthesize(db, records)
        os.environ["PROAUDIT_SIM_LATENCY_MS"] = str(latency_ms)
        with Runtime(load_settings(None, None)) as rt:
            started = time.perf_counter()
            result = retry_all(rt, ApplyOptions(assume_yes=True), concurrency=concurrency)
            took = time.perf_counter() - started
        del os.environ["PROAUDIT_SIM_LATENCY_MS"]
        return len(result.outcomes), took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    rates: dict[int, float] = {}
    for c in args.concurrency:
        done, took = one_run(args.records, args.latency_ms, c)
        rates[c] = done / took
        ratio = rates[c] * REQUESTS_PER_CHARGE / LIVE_LIMIT_PER_S
        print(
            f"concurrency {c}: {done} charges in {took:.2f}s = {rates[c]:.1f} charges/s "
            f"({rates[c] * REQUESTS_PER_CHARGE:.1f} Paystack requests/s, {ratio:.2f}x the live limit of 10/s)"
        )
    if len(rates) > 1:
        lo, hi = min(rates), max(rates)
        print(f"speed-up {hi} vs {lo}: {rates[hi] / rates[lo]:.2f}x")


if __name__ == "__main__":
    main()
