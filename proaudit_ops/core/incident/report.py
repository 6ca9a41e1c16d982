"""The runbook's post-incident template, filled in from the incident, its notes and the audit log.

Generic over commands: any audit record tagged with the incident is a timeline entry (by action,
target, outcome and external ids), whatever group wrote it. Affected customers are the
organizations the records name (organization_id anywhere in before/after, or a target that is a
payment reference or an organization id); the amount at stake is the amounts the records carry
(`amount_kobo` of each distinct payment, per currency). What only a person can write (root cause,
lessons, action items) is left as clearly marked prompts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from proaudit_ops.audit import AuditRecord
from proaudit_ops.core.incident.current import write_atomically
from proaudit_ops.core.incident.ops import Incident, Note, _get, _notes, check_id, since_opened, which
from proaudit_ops.db.engine import read_only
from proaudit_ops.db.schema import ops_audit_log, organizations, payment_transactions
from proaudit_ops.files import check_output_path
from proaudit_ops.money import format_amount
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime

PROMPT = "[TO WRITE]"
CHANGE_OUTCOMES = ("applied", "planned", "refused", "failed", "unknown")
MAX_RECORDS = 10_000  # a report lists at most this many records (an incident has tens)
_AMOUNT_KEYS = ("amount_kobo", "amount")


@dataclass(frozen=True)
class TimelineEntry:
    ts: datetime
    kind: str  # detected | acknowledged | note | change | fixed | closed
    text: str
    seq: int | None = None


@dataclass(frozen=True)
class Customer:
    organization_id: str
    name: str | None


@dataclass(frozen=True)
class ReportResult:
    incident: Incident
    timeline: list[TimelineEntry]
    changes: list[AuditRecord]
    customers: list[Customer]
    amount_at_stake: dict[str, int]  # currency -> subunits
    markdown: str
    written_to: Path | None
    truncated: bool


def incident_report(rt: Runtime, incident_id: str | None = None, *, out: str | None = None) -> ReportResult:
    chosen = check_id(incident_id) if incident_id else which(rt)
    target = check_output_path(out, "--out") if out is not None else None
    with read_only(rt.engine()) as conn:
        incident = _get(conn, chosen)
        notes = _notes(conn, chosen)
        rows = (
            conn.execute(
                select(ops_audit_log)
                .where(ops_audit_log.c.incident == chosen)
                .order_by(ops_audit_log.c.seq)
                .limit(MAX_RECORDS + 1)
            )
            .mappings()
            .all()
        )
        records = [AuditRecord.from_row(r) for r in rows[:MAX_RECORDS]]
        changes = [r for r in records if not r.action.startswith("incident.") and r.outcome in CHANGE_OUTCOMES]
        customers = _customers(conn, changes)
        at_stake = _amounts(conn, changes)
    timeline = build_timeline(incident, notes, changes)
    text = render_markdown(incident, timeline, changes, customers, at_stake, now=utcnow())
    if target is not None:
        write_atomically(target, text)
    return ReportResult(incident, timeline, changes, customers, at_stake, text, target, len(rows) > MAX_RECORDS)


# -- timeline -----------------------------------------------------------------------------------


def describe_record(record: AuditRecord) -> str:
    text = f"`{record.action}` {record.target or ''}".rstrip() + f": {record.outcome}"
    if record.external_ids:
        text += f" (external ids: {_flat(record.external_ids)})"
    return text + f" (audit #{record.seq}, {record.actor}: `{record.command}`)"


def build_timeline(incident: Incident, notes: list[Note], changes: list[AuditRecord]) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            incident.opened_at,
            "detected",
            f"Incident detected and opened by {incident.opened_by} ({incident.severity}: {incident.title})",
        )
    ]
    if incident.acknowledged_at is not None:
        entries.append(
            TimelineEntry(incident.acknowledged_at, "acknowledged", f"Acknowledged by {incident.acknowledged_by}")
        )
    entries += [TimelineEntry(n.ts, "note", f"Note by {n.author}: {n.text}") for n in notes]
    applied = [r for r in changes if r.outcome == "applied"]
    last_fix = applied[-1].seq if applied else None
    for record in changes:
        if record.seq == last_fix:
            entries.append(
                TimelineEntry(record.ts, "fixed", "Fix applied (last change): " + describe_record(record), record.seq)
            )
        else:
            entries.append(TimelineEntry(record.ts, "change", describe_record(record), record.seq))
    if incident.closed_at is not None:
        resolution = f": {incident.resolution}" if incident.resolution else ""
        entries.append(TimelineEntry(incident.closed_at, "closed", f"Closed by {incident.closed_by}{resolution}"))
    order = {"detected": 0, "acknowledged": 1, "note": 2, "change": 2, "fixed": 2, "closed": 3}
    return sorted(entries, key=lambda e: (e.ts, order[e.kind], e.seq or 0))


# -- customers and amounts ----------------------------------------------------------------------


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _customers(conn: Connection, changes: list[AuditRecord]) -> list[Customer]:
    ids: dict[str, None] = {}
    references: set[str] = set()
    for record in changes:
        for row in _walk([record.before, record.after, record.external_ids]):
            org = row.get("organization_id")
            if isinstance(org, str) and org:
                ids.setdefault(org, None)
        if record.target:
            references.add(record.target)
    if references:
        found = conn.execute(
            select(payment_transactions.c.organization_id).where(
                payment_transactions.c.reference.in_(sorted(references))
            )
        ).all()
        for (org,) in found:
            ids.setdefault(str(org), None)
        orgs = conn.execute(select(organizations.c.id).where(organizations.c.id.in_(_uuids(references)))).all()
        for (org,) in orgs:
            ids.setdefault(str(org), None)
    names: dict[str, str] = {}
    if ids:
        names = {
            str(r.id): str(r.name)
            for r in conn.execute(
                select(organizations.c.id, organizations.c.name).where(organizations.c.id.in_(_uuids(ids)))
            )
        }
    return [Customer(org, names.get(org)) for org in ids]


def _uuids(values: Any) -> list[str]:
    """Only UUID-shaped strings reach a UUID column (PostgreSQL refuses anything else)."""
    import uuid

    out: list[str] = []
    for value in values:
        try:
            out.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return out


def _amounts(conn: Connection, changes: list[AuditRecord]) -> dict[str, int]:
    """Per currency, the largest amount seen for each distinct payment (or record target), summed."""
    seen: dict[tuple[str, str], int] = {}
    targets_without: set[str] = set()
    for record in changes:
        found = False
        for row in _walk([record.before, record.after]):
            for key in _AMOUNT_KEYS:
                amount = row.get(key)
                if isinstance(amount, int) and not isinstance(amount, bool) and amount > 0:
                    identity = str(row.get("reference") or row.get("id") or record.target or record.seq)
                    currency = str(row.get("currency") or "NGN").upper()
                    seen[(identity, currency)] = max(seen.get((identity, currency), 0), amount)
                    found = True
                    break
        if not found and record.target:
            targets_without.add(record.target)
    if targets_without:
        rows = conn.execute(
            select(
                payment_transactions.c.reference, payment_transactions.c.amount_kobo, payment_transactions.c.currency
            ).where(payment_transactions.c.reference.in_(sorted(targets_without)))
        ).all()
        for reference, amount, currency in rows:
            pair = (str(reference), str(currency).upper())
            seen[pair] = max(seen.get(pair, 0), int(amount))
    totals: dict[str, int] = {}
    for (_identity, currency), amount in seen.items():
        totals[currency] = totals.get(currency, 0) + amount
    return dict(sorted(totals.items()))


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flat(v) for v in value)
    return str(value)


# -- the template -------------------------------------------------------------------------------


def _hhmm(ts: datetime, day: datetime) -> str:
    return f"{ts:%H:%M}" if ts.date() == day.date() else f"{ts:%Y-%m-%d %H:%M}"


def _duration(incident: Incident, now: datetime) -> str:
    minutes = int(since_opened(incident, now).total_seconds() // 60)
    text = f"{minutes // 60} hours {minutes % 60} minutes"
    return text if incident.closed_at else f"{text} so far (still open)"


def _impact(customers: list[Customer], at_stake: dict[str, int]) -> str:
    money = " + ".join(format_amount(v, c) for c, v in at_stake.items()) or "no amount in the records"
    return f"{len(customers)} customers affected, {money} potential revenue impact"


def render_markdown(
    incident: Incident,
    timeline: list[TimelineEntry],
    changes: list[AuditRecord],
    customers: list[Customer],
    at_stake: dict[str, int],
    *,
    now: datetime,
) -> str:
    day = incident.opened_at
    lines = [
        f"## Incident Report: {incident.title}",
        "",
        f"**Incident:** {incident.id}",
        f"**Date:** {day:%Y-%m-%d}",
        f"**Severity:** {incident.severity or PROMPT}",
        f"**Duration:** {_duration(incident, now)}",
        f"**Impact:** {_impact(customers, at_stake)}",
        "",
        "### Timeline",
        "(times in UTC; from the incident, its notes and the audit log)",
    ]
    lines += [f"- {_hhmm(e.ts, day)} - {e.text}" for e in timeline]
    if incident.acknowledged_at is None:
        lines.append(
            f"- {PROMPT} HH:MM - On-call engineer acknowledged / paged (not recorded: `proaudit incident ack`)"
        )
    lines.append(f"- {PROMPT} HH:MM - Root cause identified")
    lines.append(f"- {PROMPT} HH:MM - Monitoring confirms resolution")
    lines += [
        "",
        "### Root Cause",
        f"{PROMPT} What caused the incident? Why wasn't it caught earlier? What systems were affected?",
    ]
    lines += ["", "### Customer Impact"]
    lines.append(f"- Customers affected: {len(customers)}")
    lines += [f"  - {c.name or 'unknown organization'} ({c.organization_id})" for c in customers]
    lines.append(f"- Amount at stake: {' + '.join(format_amount(v, c) for c, v in at_stake.items()) or 'none found'}")
    lines.append(f"- {PROMPT} Revenue impact estimate and customer complaints received")
    lines += ["", "### Resolution"]
    lines.append(incident.resolution or f"{PROMPT} Steps taken to resolve (no --resolution was given at close)")
    if changes:
        lines += ["", "Changes recorded in the audit log:"]
        lines += [f"- {_hhmm(r.ts, day)} {describe_record(r)}" for r in changes]
    else:
        lines += ["", "No change was recorded with this incident's tag."]
    lines += [
        "",
        "### Action Items",
        f"- [ ] {PROMPT} [Immediate fix / long-term prevention / monitoring improvement] - Owner - Due date",
        f"- [ ] {PROMPT} [Action item 2] - Owner - Due date",
        "",
        "### Lessons Learned",
        f"{PROMPT} Key takeaways",
        "",
    ]
    return "\n".join(lines)
