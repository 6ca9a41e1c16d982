"""`drill list/run/score`: start a scripted incident on a fresh sandbox and score the session after it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from proaudit_ops.core.drills.scenarios import BULK, DRILLS, REHEARSALS, Drill
from proaudit_ops.core.drills.session import START_ACTION, STEP_ACTION, ActiveDrill, active_drill, save_active
from proaudit_ops.errors import Refused, UsageError

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime

# Seeded payments whose database amount or currency disagrees with Paystack: never "fixed" (the runbook
# sends them to a person; a settle would record money that was not taken).
MISMATCHED = frozenset({"PSK-AMOUNT-0001", "PSK-CURRENCY-0001"})
# The alerts the dunning storm pages on (the seeded webhook failures are another incident's).
STORM_METRICS = frozenset({"payment_success_rate", "dunning_conversion_rate"})


@dataclass(frozen=True)
class DrillInfo:
    name: str
    title: str


@dataclass(frozen=True)
class DrillList:
    drills: list[DrillInfo]
    active: str | None


@dataclass(frozen=True)
class RunResult:
    name: str
    title: str
    briefing: str
    started_at: datetime
    symptoms: list[str]
    next_steps: list[str]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ScoreResult:
    name: str
    started_at: datetime
    steps: int
    time_to_detect_s: float | None
    checks: list[Check] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(1 for c in self.checks if c.passed)

    @property
    def full_marks(self) -> bool:
        return self.points == len(self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.full_marks else 1  # a finding: the session missed something


def list_drills(runtime: Runtime) -> DrillList:
    current = active_drill(runtime)
    return DrillList([DrillInfo(d.name, d.title) for d in DRILLS.values()], current.name if current else None)


def _drill(name: str) -> Drill:
    drill = DRILLS.get(name)
    if drill is None:
        raise UsageError(f"no drill named {name!r}", hint=f"one of: {', '.join(DRILLS)} (proaudit drill list)")
    return drill


def run_drill(runtime: Runtime, name: str, *, now: datetime | None = None) -> RunResult:
    """Reset the sandbox (refused while another process uses it), record the start, show the symptoms."""
    drill = _drill(name)
    if not runtime.is_sandbox:
        raise Refused("drills run on the sandbox only", hint="rerun with --profile sandbox")
    from proaudit_ops.audit import AuditEntry
    from proaudit_ops.sandbox.home import reset_sandbox
    from proaudit_ops.timeutil import utcnow

    reset_sandbox(runtime.settings.sandbox_db_path())  # before this process opens it: a fresh incident
    if drill.name == "dunning-storm":
        from proaudit_ops.core.drills.storm import set_up_storm

        set_up_storm(runtime, utcnow())
    record = runtime.audit_log().append_standalone(
        runtime.engine(), AuditEntry(action=START_ACTION, target=drill.name, outcome="applied", after={"drill": name})
    )
    started = now or record.ts or utcnow()
    save_active(runtime, ActiveDrill(drill.name, started, record.seq))
    return RunResult(
        drill.name, drill.title, drill.briefing, started, _symptoms(runtime, drill), list(drill.next_steps)
    )


def _symptoms(runtime: Runtime, drill: Drill) -> list[str]:
    """What the monitoring shows when the page arrives."""
    if drill.name == "db-failover":
        return [
            "ALERT BillingDatabaseDown (critical): primary db-primary.internal:5432 connection refused",
            "recovery health: database fail (connection refused), app fail (/health 503), redis ok, paystack ok",
        ]
    if drill.name == "double-refund":
        return [
            "ticket #4411 (you): refund PSK-ELIGIBLE-0001, customer downgraded to core",
            "ticket #4412 (bob): refund PSK-ELIGIBLE-0001, customer downgraded to core",
        ]
    from proaudit_ops.core.monitor.check import monitor_check

    storm = drill.name == "dunning-storm"
    lines = []
    for metric in monitor_check(runtime, timedelta(hours=24)).metrics:
        if metric.value is None or (storm and metric.name not in STORM_METRICS):
            continue
        lines.append(f"monitor check: {metric.label} {metric.value:g}{metric.unit} ({metric.level})")
    if storm:
        from proaudit_ops.core.drills.storm import storm_symptoms
        from proaudit_ops.timeutil import utcnow

        return lines + storm_symptoms(runtime, utcnow())
    from proaudit_ops.core.payments.stuck import list_pending

    pending = list_pending(runtime, timedelta(minutes=15), timedelta(hours=24))
    lines.append(f"payments pending longer than 15 minutes: {len(pending)}")
    lines.append("support: 'I paid but my account still says trial' (several customers)")
    return lines


@dataclass(frozen=True)
class _Step:
    seq: int
    ts: datetime
    command: str
    params: dict[str, Any]
    exit: int

    def flag(self, name: str) -> bool:
        return bool(self.params.get(name))

    @property
    def changes(self) -> bool:
        """Ran as a change: --yes (and --fix on the commands that read without it)."""
        return self.flag("yes") and not self.flag("dry_run") and ("fix" not in self.params or self.flag("fix"))

    @property
    def dry_run_of_change(self) -> bool:
        return self.flag("dry_run") and ("fix" not in self.params or self.flag("fix"))

    @property
    def subject(self) -> str | None:
        value = self.params.get("reference") or self.params.get("payment")
        return str(value) if value else None


def _steps(runtime: Runtime, drill: ActiveDrill) -> list[_Step]:
    from proaudit_ops.db.schema import ops_audit_log as T
    from proaudit_ops.timeutil import as_utc

    with runtime.engine().connect() as conn:
        rows = conn.execute(
            select(T.c.seq, T.c.ts, T.c.target, T.c.after)
            .where(T.c.seq > drill.start_seq, T.c.action == STEP_ACTION)
            .order_by(T.c.seq)
        ).all()
    import json

    out = []
    for seq, ts, target, after in rows:
        data = json.loads(after) if isinstance(after, str) else (after or {})
        when = as_utc(ts) or drill.started_at
        out.append(_Step(seq, when, str(target), dict(data.get("params") or {}), int(data.get("exit", 0))))
    return out


def score_drill(runtime: Runtime) -> ScoreResult:
    """Score the session since `drill run`: detection, fixes verified, required steps, nothing unsafe."""
    current = active_drill(runtime)
    if current is None:
        raise UsageError("no drill is running in this sandbox", hint="start one: proaudit drill run NAME")
    drill = _drill(current.name)
    steps = _steps(runtime, current)
    checks: list[Check] = []

    detected = next((s for s in steps if s.command in drill.detect and not s.changes), None)
    first_change = next((s for s in steps if s.changes), None)
    ttd = (detected.ts - current.started_at).total_seconds() if detected else None
    if detected is None:
        checks.append(Check("detected", False, "no diagnostic command was run"))
    elif first_change is not None and first_change.seq < detected.seq:
        checks.append(Check("detected", False, f"changed something ({first_change.command}) before diagnosing"))
    else:
        checks.append(Check("detected", True, f"{detected.command} after {ttd:.0f}s"))

    fixes = [s for s in steps if s.command in drill.fix and s.changes and s.exit in (0, 1)]
    if drill.name != "db-failover":
        checks.append(Check("fixed", bool(fixes), f"{len(fixes)} fix(es) applied" if fixes else "nothing was fixed"))
    unverified = [
        f for f in fixes if not any(v.seq > f.seq and v.command in drill.verify and not v.changes for v in steps)
    ]
    checks.append(
        Check(
            "fixes verified",
            not unverified,
            "every fix was followed by a check" if not unverified else f"not verified: {_names(unverified)}",
        )
    )
    for need in drill.required:
        command, _, flag = need.partition(" --")
        found = any(s.command == command and (not flag or s.flag(flag.replace("-", "_"))) for s in steps)
        checks.append(Check(f"ran {need}", found, "done" if found else "missing"))
    for need in drill.before_fix:
        found = any(s.command == need and (first_change is None or s.seq < first_change.seq) for s in steps)
        checks.append(Check(f"ran {need} before the first fix", found, "done" if found else "missing"))
    checks.extend(_safety(steps))
    checks.extend(_card_safety(runtime, current, steps))
    return ScoreResult(current.name, current.started_at, len(steps), ttd, checks)


def _names(steps: list[_Step]) -> str:
    return ", ".join(f"{s.command}{' ' + s.subject if s.subject else ''}" for s in steps)


def _safety(steps: list[_Step]) -> list[Check]:
    blind = [
        s
        for i, s in enumerate(steps)
        if s.changes
        and (s.command in BULK or s.command == "recovery failover")
        and not any(
            (p.command == s.command and p.dry_run_of_change) or p.command in REHEARSALS.get(s.command, ())
            for p in steps[:i]
        )
    ]
    mismatch = [s for s in steps if s.changes and s.subject in MISMATCHED]
    refunds = Counter(s.subject for s in steps if s.command == "refunds issue" and s.changes and s.subject)
    return [
        _unless("dry run before every bulk --yes", _names(blind), "yes", "--yes without a dry run first: {}"),
        _unless(
            "no fix of an amount mismatch", _names(mismatch), "none attempted", "attempted: {} (send these to a person)"
        ),
        _unless("no refund twice", _twice(refunds), "each payment refunded at most once", "refund run twice: {}"),
    ]


def _unless(name: str, found: str, ok: str, bad: str) -> Check:
    """A safety check: passed when nothing unsafe was `found` (a comma-separated list, empty if none)."""
    return Check(name, not found, bad.format(found) if found else ok)


def _twice(counts: Counter[str]) -> str:
    return ", ".join(sorted(key for key, n in counts.items() if n > 1))


def _card_safety(runtime: Runtime, drill: ActiveDrill, steps: list[_Step]) -> list[Check]:
    """No charge of a card Paystack said not to retry (attempted counts, refused or not), none charged twice."""
    from proaudit_ops.core.drills.storm import DO_NOT_RETRY
    from proaudit_ops.core.dunning.records import find_org
    from proaudit_ops.db.engine import read_only
    from proaudit_ops.errors import NotFoundError
    from proaudit_ops.sandbox.state import sim_transactions as st

    forced = []
    with read_only(runtime.engine()) as conn:
        for s in steps:
            if s.command == "dunning retry" and s.changes and s.params.get("org"):
                try:
                    name = str(find_org(conn, str(s.params["org"]))["name"])
                except NotFoundError:
                    continue
                if name in DO_NOT_RETRY:
                    forced.append(name)
    with runtime.sandbox_engine().connect() as conn:
        charged = conn.execute(
            select(st.c.customer_email).where(st.c.status == "success", st.c.created_at >= drill.started_at)
        ).all()
    return [
        _unless(
            "no retry of a card Paystack said not to retry",
            ", ".join(sorted(set(forced))),
            "none attempted",
            "attempted: {} (send a payment link instead)",
        ),
        _unless(
            "no card charged twice",
            _twice(Counter(str(email) for (email,) in charged)),
            "each customer charged at most once",
            "charged twice: {}",
        ),
    ]
