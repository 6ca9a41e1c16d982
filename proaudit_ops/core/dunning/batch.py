"""`dunning retry-all`: every due record, bounded concurrency, a circuit breaker, a resumable cursor.

The breaker counts gateway errors (Paystack 5xx, 429 after its Retry-After waits, lost answers,
no answer), not declines: K consecutive ones, or an error rate above the bound once enough charges
were tried, stop the run before another charge is issued. With several charges in flight, a POST
is sent only while the consecutive errors so far plus the charges still awaiting their answer stay
below K (the intent protocol's send gate): a run of failures sends at most K charges, whatever the
concurrency; a charge held back when the breaker opens is not sent (its intent stays open, a rerun
verifies its reference first).

The cursor names the last record of the longest handled prefix, in order (next_retry_at, id), with
its place in that order (`RECORD_ID@NEXT_RETRY_AT`): `--after CURSOR` continues with the due
records after that place, even when the cursor's own record was recovered (and is no longer due);
records before it are left alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from proaudit_ops.core.dunning.records import all_records, due
from proaudit_ops.errors import ExitCode, OutcomeUnknown, PaystackError, Refused, UsageError
from proaudit_ops.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.protocols.intents import Intent
    from proaudit_ops.runtime import Runtime

CURSOR_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def cursor_of(record: dict[str, Any]) -> str:
    """`RECORD_ID@NEXT_RETRY_AT`: the record and its place in the order retry-all takes them."""
    at = as_utc(record.get("next_retry_at"))
    assert at is not None  # only due records are taken
    return f"{record['id']}@{at.strftime(CURSOR_TIME)}"


def _order_key(record: dict[str, Any]) -> tuple[datetime, str]:
    at = as_utc(record.get("next_retry_at"))
    assert at is not None
    return at, str(record["id"])


def after_cursor(records: list[dict[str, Any]], after: str) -> list[dict[str, Any]]:
    """The records (in order) after the cursor's place; a bare record id still works while that
    record is due (cursors printed before the place was part of them)."""
    from datetime import UTC

    rid, sep, when = after.partition("@")
    if not sep:
        ids = [str(r["id"]) for r in records]
        if after not in ids:
            raise UsageError(
                f"--after {after!r}: not a due record", hint="give the cursor a stopped run printed (ID@TIME)"
            )
        return records[ids.index(after) + 1 :]
    try:
        place = (datetime.strptime(when, CURSOR_TIME).replace(tzinfo=UTC), rid)
    except ValueError:
        raise UsageError(
            f"--after {after!r}: not a cursor (RECORD_ID@{CURSOR_TIME.replace('%', '')})",
            hint="give the cursor a stopped run printed",
        ) from None
    return [r for r in records if _order_key(r) > place]


@dataclass(frozen=True)
class Breaker:
    consecutive: int = 5
    max_error_rate: float = 0.5
    min_sample: int = 10


@dataclass
class Outcome:
    record_id: str
    organization: str
    result: str  # recovered | declined | refused | gateway_error | unknown | planned (a dry run)
    detail: str = ""
    amount: int | None = None  # subunits, with currency: the charge (made, or planned by a dry run)
    currency: str | None = None


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    opened: bool = False
    why: str = ""
    cursor: str | None = None
    remaining: int = 0
    waits: list[float] = field(default_factory=list)  # seconds slept after 429s
    resume_command: str | None = None

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "refused"]

    @property
    def exit_code(self) -> ExitCode:
        """1 when the breaker opened, an outcome is unknown, or a record was refused (a human looks)."""
        problem = self.opened or any(o.result in ("unknown", "refused") for o in self.outcomes)
        return ExitCode.FINDING if problem else ExitCode.OK


def retry_all(
    runtime: Runtime,
    options: ApplyOptions,
    *,
    limit: int | None = None,
    concurrency: int = 4,
    after: str | None = None,
    breaker: Breaker | None = None,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    max_429_waits: int = 3,
    min_429_wait: float = 1.0,
    now: datetime | None = None,
) -> BatchResult:
    from proaudit_ops.core.dunning.kind import ChargeRateLimited
    from proaudit_ops.core.dunning.retry import retry_org
    from proaudit_ops.core.recovery.maintenance import maintenance_on
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.protocols.intents import SEND_GATE, Withheld

    if concurrency < 1 or concurrency > 32:
        raise UsageError("--concurrency must be 1-32")
    if not options.assume_yes and not options.dry_run:
        raise Refused("retry-all charges cards without asking per organization: pass --yes (or --dry-run)")
    if not force and maintenance_on(runtime):
        raise Refused("maintenance mode is on: no dunning charge is sent", hint="wait, or pass --force")
    breaker = breaker or Breaker()
    now = now or utcnow()
    with read_only(runtime.engine()) as conn:
        records = [r for r in all_records(conn, "active") if due(r, now)]
    if after is not None:
        records = after_cursor(records, after)
    if limit is not None:
        records = records[:limit]
    result = BatchResult()
    lock = threading.Lock()
    answered = threading.Condition(lock)
    stop = threading.Event()
    errors = {"run": 0, "total": 0, "tried": 0}
    sending: set[str] = set()  # records whose charge was sent and whose outcome is not counted yet

    def gate(intent: Intent) -> None:
        """Right before a POST: wait while K consecutive errors are still possible from the charges
        in flight; once the breaker opened, send nothing."""
        rid = str(intent.target)
        with answered:
            if rid in sending:  # the same record again after a 429's wait
                return
            while not stop.is_set() and errors["run"] + len(sending) >= breaker.consecutive:
                answered.wait()
            if stop.is_set():
                raise Withheld(f"the circuit breaker opened ({result.why}): this charge was not sent")
            sending.add(rid)

    def one(record: dict[str, Any]) -> Outcome:
        token = SEND_GATE.set(gate)
        try:
            return attempt(record)
        finally:
            SEND_GATE.reset(token)

    def attempt(record: dict[str, Any]) -> Outcome:
        rid, org = str(record["id"]), str(record["organization"])
        for _ in range(max_429_waits + 1):
            if stop.is_set():
                return Outcome(rid, org, "skipped")
            try:
                res = retry_org(runtime, str(record["organization_id"]), options, lambda _p: True, force=True, now=now)
            except Withheld:
                return Outcome(rid, org, "skipped")
            except ChargeRateLimited as exc:  # not processed: wait at least Retry-After, then verify and send
                wait_s = max(float(exc.retry_after or 0.0), min_429_wait)
                with lock:
                    result.waits.append(wait_s)
                sleep(wait_s)
                continue
            except PaystackError as exc:
                if exc.status_code == 429:  # a read ran out of its own Retry-After waits
                    return Outcome(rid, org, "gateway_error", exc.message)
                return Outcome(rid, org, "gateway_error", exc.message)
            except OutcomeUnknown as exc:
                return Outcome(rid, org, "unknown", exc.message)
            except Refused as exc:
                return Outcome(rid, org, "refused", exc.message)
            if res.outcome == "planned":  # --dry-run: the plan was made and audited, nothing sent
                amount, currency = int(record["amount_kobo"]), str(record["currency"])
                return Outcome(rid, org, "planned", f"would charge {res.reference}", amount, currency)
            status = res.record["status"] if res.record is not None else "?"
            return Outcome(rid, org, "recovered" if status == "recovered" else "declined", res.charge_status or "")
        return Outcome(rid, org, "gateway_error", "429 after every Retry-After wait")

    def account(outcome: Outcome) -> None:
        sending.discard(outcome.record_id)
        if outcome.result != "skipped":
            count(outcome)
        answered.notify_all()  # a gate waiting for this answer (or for the breaker) decides now

    def count(outcome: Outcome) -> None:
        gateway = outcome.result in ("gateway_error", "unknown")
        errors["tried"] += 1
        errors["run"] = errors["run"] + 1 if gateway else 0
        errors["total"] += gateway
        if errors["run"] >= breaker.consecutive:
            result.opened, result.why = True, f"{errors['run']} consecutive gateway errors"
        elif errors["tried"] >= breaker.min_sample and errors["total"] / errors["tried"] > breaker.max_error_rate:
            result.opened, result.why = True, f"gateway error rate {errors['total']}/{errors['tried']}"
        if result.opened:
            stop.set()

    done_ids: set[str] = set()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: dict[Future[Outcome], dict[str, Any]] = {}
        queue = list(records)
        while (queue or pending) and not (stop.is_set() and not pending):
            while queue and len(pending) < concurrency and not stop.is_set():
                rec = queue.pop(0)
                pending[pool.submit(one, rec)] = rec
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                pending.pop(fut)
                outcome = fut.result()
                with lock:
                    if outcome.result != "skipped":
                        result.outcomes.append(outcome)
                        done_ids.add(outcome.record_id)
                    account(outcome)
    # The cursor: the last record of the longest handled prefix (in order), so nothing is skipped.
    handled_prefix = 0
    for r in records:
        if str(r["id"]) not in done_ids:
            break
        result.cursor = cursor_of(r)
        handled_prefix += 1
    result.remaining = len(records) - handled_prefix
    if (result.opened or result.remaining) and not options.dry_run:
        start = result.cursor or after
        result.resume_command = "proaudit dunning retry-all --yes" + (f" --after {start}" if start else "")
    return result
