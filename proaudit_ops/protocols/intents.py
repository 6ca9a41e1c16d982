"""The intent protocol: an external side effect (a Paystack refund, later a dunning charge) exactly once.

DESIGN.md "External side effects exactly once", Brandur Leach's atomic phases:

1. claim: one process per op key at a time (a PostgreSQL session advisory lock, an flock on
   SQLite), released by the kernel when the process dies, so a crashed run never blocks a rerun
   and a live run is never resumed under its feet (busy -> Refused, exit 4);
2. tx 1: the plan's rows locked and compared (stale -> refused), the `ops_intents` row inserted
   `started` (the op key is the primary key: two operators making the same change collide), or an
   earlier run's `started`/`unknown` row taken over; another open intent on the same target refuses;
3. adopt before post: the kind looks the effect up at Paystack (`find`); one found is adopted;
4. one POST (`perform`), attempts counted first; a lost answer (PaystackRequestAmbiguous) leaves
   the intent `unknown`, audits `unknown` and exits 5 naming `proaudit <kind> resume OP`; a definite
   refusal leaves it `failed` (nothing happened: it may be issued again);
5. tx 2: the kind's row changes computed from the rows as they are now (money has moved: record
   what happened, never refuse as stale), the intent `done` with the effect's id, the `applied`
   audit record with external_ids, all in one transaction.

A kind may also define `keep(intent, effect) -> dict`: what only Paystack's answer carries (a
checkout URL Paystack never hands out again), merged into the intent's params in a transaction of
its own as soon as the answer arrives, before `<kind>:after_post`.

Crash points `<kind>:after_intent`, `<kind>:before_post`, `<kind>:after_post`, `<kind>:after_record`.
Kinds register by name in KINDS (a dotted path, imported when a plan or an intent names it), so
`proaudit apply PLAN` and `resume` need no import of the domain code they run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from proaudit_ops.audit.canonical import plain_json
from proaudit_ops.audit.records import AuditEntry
from proaudit_ops.crashpoints import crash_point
from proaudit_ops.db.schema import ops_intents as T
from proaudit_ops.errors import OutcomeUnknown, PaystackError, PaystackRequestAmbiguous, Refused
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.protocols.guard import ChangeGuard, GuardResult
    from proaudit_ops.protocols.plan import Plan, RowChange

STATES = ("started", "unknown", "done", "failed")
OPEN_STATES = ("started", "unknown")


class Withheld(Refused):
    """A batch's send gate withheld this external step: nothing was sent, the intent is left as it
    was (a rerun verifies its reference first, then sends)."""


# A batch (dunning retry-all) sets this in the thread doing one item: called with the intent right
# before its POST, it may wait, or raise Withheld (the circuit breaker opened meanwhile).
SEND_GATE: ContextVar[Callable[[Intent], None] | None] = ContextVar("proaudit_send_gate", default=None)

KINDS: dict[str, str] = {
    "refund": "proaudit_ops.core.refunds.kind:REFUND",
    "charge": "proaudit_ops.core.dunning.kind:CHARGE",
    "link": "proaudit_ops.core.dunning.link_kind:LINK",
}


@dataclass(frozen=True)
class Effect:
    """The side effect as the other system holds it."""

    id: str
    status: str
    amount: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Intent:
    op_key: str
    kind: str
    target: str
    params: dict[str, Any]
    state: str
    external_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Intent:
        return cls(
            op_key=row["op_key"],
            kind=row["kind"],
            target=row["target"],
            params=json.loads(row["params"]),
            state=row["state"],
            external_id=row["external_id"],
            attempts=int(row["attempts"] or 0),
            last_error=row["last_error"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class IntentKind(Protocol):
    name: str  # crash points and the resume command: `proaudit {command} resume OP`
    action: str  # the audit action
    command: str

    def find(self, client: Any, intent: Intent, claimed: set[str]) -> Effect | None: ...

    def perform(self, client: Any, intent: Intent) -> Effect: ...

    def record(self, guard: ChangeGuard, conn: Connection, intent: Intent, effect: Effect) -> list[RowChange]: ...


@dataclass(frozen=True)
class IntentResult:
    intent: Intent
    outcome: str  # done | adopted (found at Paystack, no POST) | already (done before this run)
    effect: Effect | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)
    audit_seq: int | None = None
    posted: bool = False


def kind_for(name: str) -> IntentKind:
    path = KINDS.get(name)
    if path is None:
        raise Refused(f"unknown intent kind {name!r}", hint="this proaudit does not know how to run it")
    module, _, attr = path.partition(":")
    kind: IntentKind = getattr(importlib.import_module(module), attr)
    return kind


# -- reads --------------------------------------------------------------------------------------


def get_intent(conn: Connection, op_key: str, *, lock: bool = False) -> Intent | None:
    stmt = select(T).where(T.c.op_key == op_key)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return Intent.from_row(row) if row is not None else None


def intents_for(conn: Connection, target: str, kind: str | None = None) -> list[Intent]:
    stmt = select(T).where(T.c.target == target).order_by(T.c.created_at)
    if kind is not None:
        stmt = stmt.where(T.c.kind == kind)
    return [Intent.from_row(r) for r in conn.execute(stmt).mappings()]


def list_intents(
    conn: Connection, *, kind: str | None = None, since: datetime | None = None, states: tuple[str, ...] = ()
) -> list[Intent]:
    stmt = select(T).order_by(T.c.created_at.desc(), T.c.op_key)
    if kind is not None:
        stmt = stmt.where(T.c.kind == kind)
    if since is not None:
        stmt = stmt.where(T.c.created_at >= since)
    if states:
        stmt = stmt.where(T.c.state.in_(states))
    return [Intent.from_row(r) for r in conn.execute(stmt).mappings()]


# -- the claim ----------------------------------------------------------------------------------


@contextlib.contextmanager
def claim(engine: Engine, op_key: str, command: str, flag: _Busy | None = None) -> Iterator[None]:
    """Hold the op key for this process; busy -> Refused (exit 4). The kernel frees it on a crash."""
    if flag is not None:
        flag.hit = False
    busy = Refused(
        f"intent {op_key} is being run by another proaudit process right now",
        hint=f"wait for it to finish, then look: proaudit {command} list",
    )
    if engine.dialect.name == "postgresql":
        from proaudit_ops.db.engine import advisory_key

        with engine.connect() as conn:
            key = advisory_key(conn, f"proaudit:intent:{op_key}")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                if flag is not None:
                    flag.hit = True
                raise busy
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    path = engine.url.database
    if not path or path == ":memory:":
        yield  # a private in-memory database: nobody else can see it
        return
    import fcntl

    # One lock file per op key (an flock is per open file, so threads of one `retry-all` holding
    # different keys never refuse each other; the same key is refused in any thread or process).
    folder = f"{path}.intents.d"
    os.makedirs(folder, mode=0o700, exist_ok=True)
    name = hashlib.sha256(op_key.encode("utf-8")).hexdigest()[:32]
    fd = os.open(os.path.join(folder, f"{name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if flag is not None:
                flag.hit = True
            raise busy from None
        yield
    finally:
        os.close(fd)


# -- the protocol -------------------------------------------------------------------------------


def run_plan(guard: ChangeGuard, plan: Plan) -> GuardResult:
    """A reviewed plan with an external step, confirmed: the whole protocol (the guard's `apply`)."""
    from proaudit_ops.protocols.guard import GuardResult

    step = plan.external
    assert step is not None
    kind = kind_for(step.kind)
    if step.needs_approval:
        require_approval(guard, plan)
    busy = _Busy()
    try:
        with claim(guard.engine, step.op_key, kind.command, busy):
            intent = _begin(guard, plan, kind)
            crash_point(f"{kind.name}:after_intent")
            result = _drive(guard, kind, intent, plan)
    except Refused as exc:
        if busy.hit:
            guard.record(plan.action, plan, "refused", error=exc.message, extra={"op_key": step.op_key})
        raise
    return GuardResult("applied", plan, result.rows, result.audit_seq, changes=tuple(result.changes))


class _Busy:
    hit = False


def resume(guard: ChangeGuard, op_key: str) -> IntentResult:
    """Finish (or resolve) an intent left `started` or `unknown`: Paystack is asked first."""
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.errors import NotFoundError

    with read_only(guard.engine) as conn:
        intent = get_intent(conn, op_key)
    if intent is None:
        raise NotFoundError(f"no intent {op_key}", hint="list them: proaudit refunds list")
    kind = kind_for(intent.kind)
    if intent.state == "done":
        return IntentResult(intent, "already", None)
    if intent.state == "failed":
        raise Refused(
            f"intent {op_key} failed ({intent.last_error}): nothing was done at Paystack",
            hint=f"issue it again if it is still wanted: proaudit {kind.command} issue ...",
        )
    with claim(guard.engine, op_key, kind.command):
        with guard.tx() as conn:
            current = get_intent(conn, op_key, lock=True)
        assert current is not None
        if current.state == "done":
            return IntentResult(current, "already", None)
        return _drive(guard, kind, current, None)


def _begin(guard: ChangeGuard, plan: Plan, kind: IntentKind) -> Intent:
    step = plan.external
    assert step is not None
    now = utcnow()
    try:
        with guard.tx() as conn:
            _wait_for_rows(conn, plan)
            guard.lock_and_compare(conn, plan)
            existing = get_intent(conn, step.op_key, lock=True)
            if existing is not None and existing.state == "done":
                raise Refused(
                    f"already done: intent {step.op_key} made {kind.name} {existing.external_id}; nothing was sent",
                    hint=f"look at it: proaudit {kind.command} status {existing.external_id}",
                )
            others = [i for i in intents_for(conn, str(step.params["target"])) if i.state in OPEN_STATES]
            others = [i for i in others if i.op_key != step.op_key]
            if others:
                raise Refused(
                    f"intent {others[0].op_key} on the same payment is {others[0].state}: finish it first",
                    hint=f"proaudit {kind.command} resume {others[0].op_key}",
                )
            if existing is None:
                conn.execute(
                    T.insert().values(
                        op_key=step.op_key,
                        kind=step.kind,
                        target=str(step.params["target"]),
                        params=json.dumps(plain_json(step.params), sort_keys=True),
                        state="started",
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif existing.state == "failed":  # nothing happened last time: a fresh start
                _set(conn, step.op_key, state="started", last_error=None, updated_at=now)
            intent = get_intent(conn, step.op_key)
            assert intent is not None
    except IntegrityError:
        guard.record(plan.action, plan, "refused", error=f"intent {step.op_key} was just started by another run")
        raise Refused(
            f"intent {step.op_key} was just started by another operator or process",
            hint=f"look before trying again: proaudit {kind.command} list",
        ) from None
    except Refused as exc:
        guard.record(plan.action, plan, "refused", error=exc.message, extra={"op_key": step.op_key})
        raise
    return intent


def _wait_for_rows(conn: Connection, plan: Plan) -> None:
    """Lock the plan's rows waiting up to lock_timeout (not NOWAIT): we hold the claim, and another
    run only planning (a short transaction) must not make both runs give up."""
    from proaudit_ops.db.engine import is_lock_timeout
    from proaudit_ops.protocols.plan_schema import change_table

    if conn.dialect.name != "postgresql":
        return
    from sqlalchemy import and_
    from sqlalchemy.exc import DBAPIError

    for change in plan.changes:
        table = change_table(change)
        where = and_(*(table.c[name] == value for name, value in change.key.items()))
        try:
            conn.execute(select(table.c[next(iter(change.key))]).where(where).with_for_update())
        except DBAPIError as exc:
            if is_lock_timeout(exc):
                raise Refused(
                    f"timed out waiting for the lock on {change.table} {change.label}",
                    hint="another session holds it: retry in a moment",
                ) from None
            raise


def _drive(guard: ChangeGuard, kind: IntentKind, intent: Intent, plan: Plan | None) -> IntentResult:
    """Adopt before post; at most one POST; then record. Caller holds the claim."""
    if guard.paystack is None:
        raise Refused("this change guard has no Paystack client: it cannot run an external step")
    client = guard.paystack()
    effect = kind.find(client, intent, _claimed(guard.engine, intent))
    posted = False
    if effect is None:
        gate = SEND_GATE.get()
        if gate is not None:
            gate(intent)  # may wait for the batch's verdict; Withheld: nothing is sent
        crash_point(f"{kind.name}:before_post")
        with guard.tx() as conn:  # counted before sending: a crash mid-call still shows the attempt
            _set(conn, intent.op_key, attempts=intent.attempts + 1, updated_at=utcnow())
        try:
            effect = kind.perform(client, intent)
        except PaystackRequestAmbiguous as exc:
            _settle(guard, kind, intent, plan, "unknown", exc.message)
            raise OutcomeUnknown(
                f"{kind.name} {intent.op_key}: outcome unknown ({exc.message}); nothing will be sent again blindly",
                hint=f"run `proaudit {kind.command} resume {intent.op_key}` (it asks Paystack first)",
            ) from None
        except PaystackError as exc:
            _settle(guard, kind, intent, plan, "failed", exc.message)
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                raise Refused(f"Paystack refused the {kind.name}: {exc.message}", hint=exc.hint) from None
            raise
        posted = True
        keep = getattr(kind, "keep", None)
        saved = keep(intent, effect) if keep is not None else None
        if saved:
            with guard.tx() as conn:
                remember(conn, intent.op_key, saved)
        crash_point(f"{kind.name}:after_post")
    result = _finish(guard, kind, intent, effect, plan, posted)
    crash_point(f"{kind.name}:after_record")
    return result


def _finish(
    guard: ChangeGuard, kind: IntentKind, intent: Intent, effect: Effect, plan: Plan | None, posted: bool
) -> IntentResult:
    action = plan.action if plan is not None else kind.action
    with guard.tx() as conn:
        current = get_intent(conn, intent.op_key, lock=True)
        assert current is not None
        if current.state == "done":
            return IntentResult(current, "already", effect)
        changes = kind.record(guard, conn, current, effect)
        now = utcnow()
        rows = [guard.update_row(conn, change, now) for change in changes]
        _set(conn, intent.op_key, state="done", external_id=effect.id, last_error=None, updated_at=now)
        record = guard.audit.append(
            conn,
            AuditEntry(
                action=action,
                target=str(intent.params.get("reference") or intent.target),
                outcome="applied",
                before=[change.before for change in changes],
                after={
                    "op_key": intent.op_key,
                    "effect": {"id": effect.id, "status": effect.status, "amount": effect.amount},
                    "adopted": not posted,
                    "rows": [plain_json(row) for row in rows],
                },
                external_ids={f"paystack_{kind.name}_id": effect.id, "op_key": intent.op_key},
            ),
        )
        done = get_intent(conn, intent.op_key)
    assert done is not None
    return IntentResult(done, "done" if posted else "adopted", effect, rows, changes, record.seq, posted)


def _settle(guard: ChangeGuard, kind: IntentKind, intent: Intent, plan: Plan | None, state: str, error: str) -> None:
    with guard.tx() as conn:
        _set(conn, intent.op_key, state=state, last_error=error[:500], updated_at=utcnow())
    guard.record(
        plan.action if plan is not None else kind.action,
        plan,
        "unknown" if state == "unknown" else "failed",
        error=error,
        extra={"op_key": intent.op_key, "target": str(intent.params.get("reference") or intent.target)},
    )


def _claimed(engine: Engine, intent: Intent) -> set[str]:
    """Effects other intents of the same target already own: never adopted twice."""
    from proaudit_ops.db.engine import read_only

    with read_only(engine) as conn:
        return {
            i.external_id
            for i in intents_for(conn, intent.target, intent.kind)
            if i.external_id is not None and i.op_key != intent.op_key
        }


def remember(conn: Connection, op_key: str, data: dict[str, Any]) -> None:
    """Merge `data` into the intent's params (what a kind's `keep` saves from Paystack's answer)."""
    if not data:
        return
    row = conn.execute(select(T.c.params).where(T.c.op_key == op_key)).first()
    if row is None:
        return
    params = {**json.loads(row[0]), **plain_json(data)}
    _set(conn, op_key, params=json.dumps(params, sort_keys=True), updated_at=utcnow())


def _set(conn: Connection, op_key: str, **values: Any) -> None:
    conn.execute(update(T).where(T.c.op_key == op_key).values(**values))


# -- the two-person rule --------------------------------------------------------------------------

APPROVE_ACTION = "approve"


def operator_of(actor: str) -> str:
    """`alice (os:alice)` -> `alice` (the audit actor format, records.AuditContext.actor)."""
    return actor.rsplit(" (os:", 1)[0].strip().lower()


def planned_by(engine: Engine, plan: Plan) -> str:
    """The actor of the plan's `planned` record (refused when there is none)."""
    from proaudit_ops.protocols.plan_auth import require_planned_record

    require_planned_record(engine, plan)
    for record in _records(engine, plan, "planned", plan.action):
        return str(record.actor)
    raise Refused(f"the plan {plan.plan_hash[:12]} has no planned record")  # pragma: no cover


def approvals(engine: Engine, plan: Plan) -> list[str]:
    """The actors who approved this plan (its hash), newest first."""
    return [record.actor for record in _records(engine, plan, "applied", APPROVE_ACTION)]


def require_approval(guard: ChangeGuard, plan: Plan) -> None:
    """A plan above the approval threshold runs only after another operator approved it."""
    planner = operator_of(planned_by(guard.engine, plan))
    if not any(operator_of(actor) != planner for actor in approvals(guard.engine, plan)):
        message = f"the plan {plan.plan_hash[:12]} needs a second operator's approval first"
        guard.record(plan.action, plan, "refused", error=message)
        raise Refused(message, hint="another operator runs `proaudit approve PLAN`, then `proaudit apply PLAN`")


def _records(engine: Engine, plan: Plan, outcome: str, action: str) -> list[Any]:
    from proaudit_ops.audit.records import AuditRecord
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.db.schema import ops_audit_log as A

    digest = plan.plan_hash
    stmt = (
        select(A)
        .where(A.c.outcome == outcome, A.c.action == action)
        .where(A.c.after.contains(f'"plan_hash":"{digest}"'))
        .order_by(A.c.seq.desc())
        .limit(50)
    )
    with read_only(engine) as conn:
        rows = conn.execute(stmt).mappings().all()
    out = []
    for row in rows:
        record = AuditRecord.from_row(row)
        if isinstance(record.after, dict) and record.after.get("plan_hash") == digest:
            out.append(record)
    return out


@dataclass(frozen=True)
class Approval:
    plan: Plan
    planned_by: str
    approved_by: str
    audit_seq: int | None

    @property
    def exit_code(self) -> int:
        return 0


def approve_plan(guard: ChangeGuard, path: Any) -> Approval:
    """`proaudit approve FILE`: a second operator signs off a saved plan (audited with both names).

    Refused (exit 4): a plan that is not authentic or was never planned here, a plan that needs
    no approval, and the operator who made the plan approving it.
    """
    from proaudit_ops.protocols.saved_plan import load_plan_file

    plan = load_plan_file(guard, path)
    planner = planned_by(guard.engine, plan)
    me = guard.audit.context.actor
    if plan.external is None or not plan.external.needs_approval:
        message = f"the plan {plan.plan_hash[:12]} needs no approval: apply it with `proaudit apply FILE`"
        guard.record(APPROVE_ACTION, plan, "refused", error=message)
        raise Refused(message)
    if operator_of(planner) == operator_of(me):
        message = f"{me} made this plan and cannot approve it too (the two-person rule)"
        guard.record(APPROVE_ACTION, plan, "refused", error=message, extra={"planned_by": planner})
        raise Refused(message, hint="another operator (their own proaudit_operator) runs `proaudit approve FILE`")
    record = guard.record(APPROVE_ACTION, plan, "applied", extra={"planned_by": planner, "approved_by": me})
    return Approval(plan, planner, me, record.seq if record.stored_in == "table" else None)
