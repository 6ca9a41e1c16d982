"""Charges per second of `dunning retry-all` at concurrency 1 and 8 against a slow simulator,
and the ratio to Paystack's live rate limit (600 requests a minute).

Run: .venv/bin/python bench/retry_all.py [--records 40] [--latency-ms 50] [--concurrency 1 8]

Each run gets a private sandbox with N synthetic organizations copied from the seeded Sahel
Agro Cooperative (its subscription, a successful payment holding a reusable card at the
simulator, and an active dunning record due now). The in-process simulator answers every
request after --latency-ms. A charge costs 3 Paystack requests (the card's authorization, the
verify-first lookup of the charge reference, the POST).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

REQUESTS_PER_CHARGE = 3
LIVE_LIMIT_PER_S = 600 / 60


def _copy(conn: Any, table: str, where: str, params: dict[str, Any], **changes: Any) -> None:
    row = dict(conn.execute(text(f"SELECT * FROM {table} WHERE {where}"), params).mappings().one())
    row.update(changes)
    cols = ", ".join(row)
    marks = ", ".join(f":{c}" for c in row)
    conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"), row)


def synthesize(db: str, n: int) -> None:
    from proaudit_ops.timeutil import utcnow

    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        org = conn.execute(text("SELECT id, email FROM organizations WHERE name = 'Sahel Agro Cooperative'")).one()
        ok = conn.execute(
            text(
                "SELECT id, reference FROM payment_transactions WHERE organization_id = :o AND status = 'success' "
                "ORDER BY created_at DESC LIMIT 1"
            ),
            {"o": org.id},
        ).one()
        dun = conn.execute(
            text(
                "SELECT id, payment_transaction_id FROM dunning_records "
                "WHERE organization_id = :o AND status = 'active'"
            ),
            {"o": org.id},
        ).one()
        sim_id = int(conn.execute(text("SELECT max(id) FROM sim_transactions")).scalar() or 0)
        auth = conn.execute(
            text("SELECT authorization_code FROM sim_authorizations WHERE email = :e"), {"e": org.email}
        ).one()
        for i in range(n):
            oid, email = uuid.uuid4().hex, f"bench{i}@example.ng"
            _copy(conn, "organizations", "id = :i", {"i": org.id}, id=oid, name=f"Bench Org {i:04d}", email=email)
            _copy(conn, "tenant_skus", "organization_id = :i", {"i": org.id}, id=uuid.uuid4().hex, organization_id=oid)
            ref = f"BENCH-OK-{i:04d}"
            _copy(
                conn,
                "payment_transactions",
                "id = :i",
                {"i": ok.id},
                id=uuid.uuid4().hex,
                organization_id=oid,
                reference=ref,
            )
            failed = uuid.uuid4().hex
            _copy(
                conn,
                "payment_transactions",
                "id = :i",
                {"i": dun.payment_transaction_id},
                id=failed,
                organization_id=oid,
                reference=f"BENCH-FAIL-{i:04d}",
            )
            _copy(
                conn,
                "dunning_records",
                "id = :i",
                {"i": dun.id},
                id=uuid.uuid4().hex,
                organization_id=oid,
                payment_transaction_id=failed,
                next_retry_at=utcnow(),
            )
            code = f"AUTH_bench{i:05d}"
            _copy(
                conn,
                "sim_authorizations",
                "authorization_code = :c",
                {"c": auth.authorization_code},
                authorization_code=code,
                email=email,
            )
            sim_id += 1
            row = conn.execute(
                text("SELECT authorization FROM sim_transactions WHERE reference = :r"), {"r": ok.reference}
            ).scalar()
            _copy(
                conn,
                "sim_transactions",
                "reference = :r",
                {"r": ok.reference},
                id=sim_id,
                reference=ref,
                customer_email=email,
                authorization=str(row).replace(auth.authorization_code, code),
            )
    engine.dispose()


def one_run(records: int, latency_ms: int, concurrency: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="proaudit-bench-") as home:
        for name in list(os.environ):
            if name.startswith(("PROAUDIT_", "PAYSTACK_")) or name == "DATABASE_URL":
                del os.environ[name]
        os.environ.update(XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config", PROAUDIT_HOME=f"{home}/p")
        os.environ["PROAUDIT_OPERATOR"] = "bench"
        from pathlib import Path

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
