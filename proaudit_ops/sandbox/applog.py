"""The sandbox's billing-app log: what the app would have written about the seeded payments.

Written next to the sandbox database (`HOME/logs/app.log`, rotated as logrotate leaves it:
`app.log` the last hour, `app.log.1` the day before, `app.log.2.gz` the week before that), from
the same dataset and the same `now` as the seed, so `logs search --ref PSK-STUCK-0001` finds the
checkout in the rotated log and the reconciler's "still pending" warnings in the current one.
"""

from __future__ import annotations

import gzip
import io
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from proaudit_ops.sandbox.dataset import ORG_BY_SLUG, PAYMENTS, Pay

CURRENT_SPAN = timedelta(hours=1)  # app.log
ROTATED_SPAN = timedelta(hours=24)  # app.log.1: up to a day old
KEPT_SPAN = timedelta(days=7)  # app.log.2.gz: up to a week old; older lines were rotated away
SWEEP_EVERY = timedelta(minutes=30)
SWEEP_WINDOW = timedelta(hours=24)
STUCK_AFTER = timedelta(minutes=15)
FILES = ("app.log", "app.log.1", "app.log.2.gz")


@dataclass(frozen=True, order=True)
class Line:
    ts: datetime
    order: int
    text: str


def _stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _line(ts: datetime, level: str, component: str, message: str, order: int = 0) -> Line:
    return Line(ts, order, f"{_stamp(ts)} {level:<7} [{component}] {message}")


def _payment_lines(pay: Pay, now: datetime) -> list[Line]:
    org = ORG_BY_SLUG[pay.org]
    start = now - pay.age
    ids = f"reference={pay.ref} org={org.id}"
    amount = f"amount_kobo={pay.amount} currency={pay.currency}"
    out = [
        _line(
            start,
            "INFO",
            "billing_service",
            f"Initializing Paystack transaction {ids} {amount} tier={org.tier} cycle={org.billing_cycle} "
            f"entry={pay.entry}",
        )
    ]
    paid = start + timedelta(seconds=91)
    if pay.ps == "success" and pay.inbox is None and pay.db == "pending":
        # The payment succeeded at Paystack but no webhook came: the reconciler keeps warning.
        out.append(_line(paid, "INFO", "paystack", f"Checkout callback received {ids} status=success"))
        tick = start + STUCK_AFTER
        while tick < min(now, start + SWEEP_WINDOW):  # the sweep looks back a day, like `payments stuck`
            minutes = int((tick - start).total_seconds() // 60)
            out.append(
                _line(
                    tick,
                    "WARNING",
                    "billing.reconcile",
                    f"Payment still pending after {minutes} min, no charge.success webhook received {ids}",
                )
            )
            tick += SWEEP_EVERY
    if pay.inbox is not None:
        status, attempts, error = pay.inbox
        received = paid + timedelta(seconds=3)
        if status == "processed":
            out.append(
                _line(
                    received,
                    "INFO",
                    "webhooks",
                    f"POST /api/v1/billing/webhook/paystack 200 event=charge.success {ids}",
                )
            )
            out.append(_line(received, "INFO", "billing_service", f"Payment successful, subscription active {ids}", 1))
        else:
            for attempt in range(1, attempts + 1):
                when = received + timedelta(minutes=2 ** (attempt - 1) - 1)
                out.append(
                    _line(
                        when,
                        "ERROR",
                        "webhooks",
                        f"Webhook processing failed event=charge.success {ids} attempt={attempt} "
                        f"status=500 error={error!r}",
                    )
                )
                if error and "KeyError" in error:
                    out.append(_line(when, "ERROR", "webhooks", "Traceback (most recent call last):", 1))
                    out.append(
                        Line(
                            when, 2, '  File "app/services/billing_service.py", line 412, in process_successful_payment'
                        )
                    )
                    out.append(Line(when, 3, "    plan_code = data['plan']['plan_code']"))
                    out.append(Line(when, 4, "KeyError: 'plan_code'"))
    if pay.failure:
        out.append(_line(paid, "WARNING", "paystack", f"Charge failed {ids} gateway_response={pay.failure!r}"))
    if pay.db == "pending" and pay.ps is None:
        out.append(
            _line(
                start + timedelta(minutes=20), "ERROR", "paystack", f"Transaction verify returned 404 Not Found {ids}"
            )
        )
    if pay.ps == "abandoned":
        out.append(
            _line(start + timedelta(minutes=30), "INFO", "paystack", f"Checkout abandoned by the customer {ids}")
        )
    return out


def build_lines(now: datetime) -> list[Line]:
    lines: list[Line] = []
    for pay in PAYMENTS:
        lines += _payment_lines(pay, now)
    tick = now - KEPT_SPAN
    while tick < now:  # the noise every real log has: health checks, the dunning scheduler
        lines.append(_line(tick, "INFO", "http", "GET /api/v1/health 200 4ms"))
        if tick.minute == 0 and tick.hour % 6 == 0:
            lines.append(_line(tick, "INFO", "celery", "dunning_service.retry_due_payments started", 1))
        tick += timedelta(minutes=10)
    return sorted(line for line in lines if now - KEPT_SPAN <= line.ts <= now)


def write_app_logs(log_dir: Path, now: datetime) -> Path:
    """Write the three files (replacing any); the current log's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    buckets: dict[str, list[str]] = {name: [] for name in FILES}
    for line in build_lines(now):
        age = now - line.ts
        name = FILES[0] if age <= CURRENT_SPAN else FILES[1] if age <= ROTATED_SPAN else FILES[2]
        buckets[name].append(line.text)
    bounds = {FILES[0]: now, FILES[1]: now - CURRENT_SPAN, FILES[2]: now - ROTATED_SPAN}
    for name, texts in buckets.items():
        body = ("\n".join(texts) + "\n").encode() if texts else b""
        target = log_dir / name
        tmp = log_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"  # racing seeders never share one
        if name.endswith(".gz"):
            packed = io.BytesIO()
            with gzip.GzipFile(filename=name[:-3], mode="wb", fileobj=packed, mtime=0) as gz:
                gz.write(body)
            body = packed.getvalue()
        tmp.write_bytes(body)
        stamp = bounds[name].timestamp()
        os.utime(tmp, (stamp, stamp))  # as logrotate leaves them: last written when rotated
        os.replace(tmp, target)
    return log_dir / FILES[0]


def ensure_app_logs(log_dir: Path, db_path: Path) -> Path:
    """The current log, written from the sandbox's seed time if it is not there yet."""
    current = log_dir / FILES[0]
    if current.exists():
        return current
    from sqlalchemy import select

    from proaudit_ops.db.engine import make_engine
    from proaudit_ops.sandbox.state import sim_meta
    from proaudit_ops.timeutil import parse_iso, utcnow

    engine = make_engine(f"sqlite+pysqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            seeded = conn.execute(select(sim_meta.c.value).where(sim_meta.c.key == "seeded_at")).scalar()
    finally:
        engine.dispose()
    return write_app_logs(log_dir, (parse_iso(str(seeded)) if seeded else None) or utcnow())
