"""Incident operations: open, acknowledge, note, close, status, list, page.

Incidents live in the tool's own tables (ops_incidents, ops_incident_notes) in the billing database,
so two operators on one incident see the same notes. Every change commits together with its audit
record (action `incident.*`, tagged with the incident), in one transaction: a change without its
record, or a record without its change, cannot happen.
"""

from __future__ import annotations

import copy
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from proaudit_ops.audit import AuditEntry, AuditLog
from proaudit_ops.core.incident.current import ID_RE, clear_current, current_incident_id, set_current
from proaudit_ops.core.incident.matrix import ESCALATE_AFTER, Contact, Severity, contacts, severity
from proaudit_ops.db.engine import read_only, write_tx
from proaudit_ops.db.schema import ops_audit_log, ops_incident_notes, ops_incidents
from proaudit_ops.errors import Refused, UsageError
from proaudit_ops.timeutil import utcnow

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime

MAX_TITLE = 200
MAX_NOTE = 4000
MAX_RESOLUTION = 4000
MAX_LIST = 1000
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # newlines and tabs are fine in a note


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    severity: str | None
    status: str  # open | closed
    opened_by: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    resolution: str | None

    @property
    def response_deadline(self) -> datetime | None:
        level = self.severity_info
        return self.opened_at + level.response_time if level else None

    @property
    def escalate_at(self) -> datetime:
        return self.opened_at + ESCALATE_AFTER

    @property
    def severity_info(self) -> Severity | None:
        return severity(self.severity) if self.severity else None

    @classmethod
    def from_row(cls, row: Any) -> Incident:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Note:
    id: int
    ts: datetime
    author: str
    text: str


@dataclass(frozen=True)
class Escalation:
    severity: Severity
    first_responder: list[Contact]
    escalation: list[Contact]
    final: list[Contact]


@dataclass(frozen=True)
class OpenResult:
    incident: Incident
    escalation: Escalation
    response_deadline: datetime
    escalate_at: datetime
    current_file: Path
    replaced: str | None  # the incident that was current before
    audit_seq: int


@dataclass(frozen=True)
class ChangeResult:
    """ack, note, close: the incident as it is now."""

    action: str
    incident: Incident
    note: Note | None
    audit_seq: int
    current_cleared: bool = False


@dataclass(frozen=True)
class StatusResult:
    incident: Incident
    current: bool
    notes: list[Note]
    records_by_outcome: dict[str, int]
    now: datetime
    deadline_passed: bool
    escalation: Escalation


@dataclass(frozen=True)
class ListResult:
    incidents: list[Incident]
    current: str | None
    status: str | None


@dataclass(frozen=True)
class PageResult:
    incident: Incident
    now: datetime
    escalate_at: datetime
    escalation_due: bool
    page_now: list[Contact]
    page_at_escalation: list[Contact]
    final: list[Contact]
    notes: list[str] = field(default_factory=list)


# -- validation ---------------------------------------------------------------------------------


def _text(value: str, flag: str, limit: int, *, one_line: bool) -> str:
    text = value.strip()
    if not text:
        raise UsageError(f"{flag} is empty", hint=f"give {flag} a few words")
    if len(text) > limit:
        raise UsageError(f"{flag} is {len(text)} characters long (at most {limit})")
    if _CONTROL_RE.search(text) or (one_line and ("\n" in text or "\r" in text)):
        raise UsageError(f"{flag} contains a control character" + (" or a line break" if one_line else ""))
    return text


def check_id(value: str, flag: str = "incident id") -> str:
    if not ID_RE.fullmatch(value):
        raise UsageError(
            f"{flag} {value[:40]!r} is malformed",
            hint="letters, digits, '.', '_' and '-', at most 100 characters, e.g. INC-1234",
        )
    return value


def new_id(now: datetime) -> str:
    return f"INC-{now:%Y%m%d}-{secrets.token_hex(2).upper()}"


# -- reading ------------------------------------------------------------------------------------


def _get(conn: Connection, incident_id: str) -> Incident:
    row = conn.execute(select(ops_incidents).where(ops_incidents.c.id == incident_id)).mappings().first()
    if row is None:
        raise UsageError(f"no incident {incident_id!r} in this database", hint="see `proaudit incident list`")
    return Incident.from_row(row)


def _notes(conn: Connection, incident_id: str) -> list[Note]:
    rows = conn.execute(
        select(ops_incident_notes)
        .where(ops_incident_notes.c.incident_id == incident_id)
        .order_by(ops_incident_notes.c.ts, ops_incident_notes.c.id)
    ).mappings()
    return [Note(int(r["id"]), r["ts"], r["author"], r["text"]) for r in rows]


def which(rt: Runtime, given: str | None = None) -> str:
    """The incident a command is about: its argument, else --incident / PROAUDIT_INCIDENT / current."""
    incident = given or rt.incident or current_incident_id(rt.settings)
    if not incident:
        raise UsageError(
            "no incident given and none is current",
            hint="pass --incident ID, or open one: proaudit incident open --severity P2 --title '...'",
        )
    return check_id(incident)


def escalation_for(level: Severity, configured: dict[str, str]) -> Escalation:
    return Escalation(
        level,
        contacts(level.first_responder, configured),
        contacts(level.escalation, configured),
        contacts(level.final, configured),
    )


# -- changing -----------------------------------------------------------------------------------


def _audit_for(rt: Runtime, incident_id: str) -> AuditLog:
    """The runtime's audit log, tagging with this incident (open: the new id is not current yet)."""
    log = copy.copy(rt.audit_log())
    log.context = replace(log.context, incident=incident_id)
    return log


def _tx(rt: Runtime) -> Any:
    s = rt.settings
    return write_tx(
        rt.engine(), lock_timeout_ms=s.proaudit_lock_timeout_ms, statement_timeout_ms=s.proaudit_statement_timeout_ms
    )


def _jsonable(incident: Incident) -> dict[str, Any]:
    return {name: getattr(incident, name) for name in Incident.__dataclass_fields__}


def open_incident(rt: Runtime, *, level: str, title: str, incident_id: str | None = None) -> OpenResult:
    sev = severity(level)
    title = _text(title, "--title", MAX_TITLE, one_line=True)
    now = utcnow()
    chosen = check_id(incident_id, "--id") if incident_id else new_id(now)
    log = _audit_for(rt, chosen)
    with _tx(rt) as conn:
        if conn.execute(select(ops_incidents.c.id).where(ops_incidents.c.id == chosen)).first() is not None:
            raise Refused(f"incident {chosen} already exists", hint="pick another --id, or leave --id out")
        row: dict[str, Any] = {
            "id": chosen,
            "title": title,
            "severity": sev.level,
            "status": "open",
            "opened_by": log.context.actor,
            "opened_at": now,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "closed_at": None,
            "closed_by": None,
            "resolution": None,
        }
        conn.execute(insert(ops_incidents).values(**row))
        incident = Incident(**row)
        record = log.append(
            conn, AuditEntry(action="incident.open", target=chosen, outcome="applied", after=_jsonable(incident))
        )
    previous = current_incident_id(rt.settings)
    path = set_current(rt.settings, chosen)
    return OpenResult(
        incident=incident,
        escalation=escalation_for(sev, rt.settings.proaudit_incident_contacts),
        response_deadline=now + sev.response_time,
        escalate_at=now + ESCALATE_AFTER,
        current_file=path,
        replaced=previous if previous != chosen else None,
        audit_seq=record.seq,
    )


def acknowledge(rt: Runtime, incident_id: str | None = None) -> ChangeResult:
    chosen = which(rt, incident_id)
    log = _audit_for(rt, chosen)
    now = utcnow()
    with _tx(rt) as conn:
        before = _get(conn, chosen)
        if before.acknowledged_at is not None:
            raise Refused(
                f"incident {chosen} was already acknowledged by {before.acknowledged_by} "
                f"at {before.acknowledged_at:%H:%M} UTC",
                hint="add a note instead: proaudit incident note '...'",
            )
        done = conn.execute(
            update(ops_incidents)
            .where(ops_incidents.c.id == chosen, ops_incidents.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=log.context.actor)
        )
        if done.rowcount != 1:  # someone acknowledged it between our read and our update
            raise Refused(f"incident {chosen} was acknowledged by someone else just now", hint="see incident status")
        after = replace(before, acknowledged_at=now, acknowledged_by=log.context.actor)
        record = log.append(
            conn,
            AuditEntry(
                action="incident.ack",
                target=chosen,
                outcome="applied",
                before={"acknowledged_at": None},
                after={"acknowledged_at": now, "acknowledged_by": after.acknowledged_by},
            ),
        )
    return ChangeResult("acknowledged", after, None, record.seq)


def add_note(rt: Runtime, text: str, incident_id: str | None = None) -> ChangeResult:
    chosen = which(rt, incident_id)
    body = _text(text, "the note", MAX_NOTE, one_line=False)
    log = _audit_for(rt, chosen)
    now = utcnow()
    with _tx(rt) as conn:
        incident = _get(conn, chosen)
        inserted = conn.execute(
            insert(ops_incident_notes)
            .values(incident_id=chosen, ts=now, author=log.context.actor, text=body)
            .returning(ops_incident_notes.c.id)
        ).scalar_one()
        note = Note(int(inserted), now, log.context.actor, body)
        record = log.append(
            conn,
            AuditEntry(
                action="incident.note", target=chosen, outcome="applied", after={"note_id": note.id, "text": body}
            ),
        )
    return ChangeResult("noted", incident, note, record.seq)


def close_incident(rt: Runtime, resolution: str | None, incident_id: str | None = None) -> ChangeResult:
    chosen = which(rt, incident_id)
    text = _text(resolution, "--resolution", MAX_RESOLUTION, one_line=False) if resolution is not None else None
    log = _audit_for(rt, chosen)
    now = utcnow()
    with _tx(rt) as conn:
        before = _get(conn, chosen)
        if before.status != "open":
            raise Refused(
                f"incident {chosen} is already closed (by {before.closed_by} at {before.closed_at:%Y-%m-%d %H:%M} UTC)"
                if before.closed_at
                else f"incident {chosen} is {before.status}, not open",
                hint=f"see: proaudit incident report {chosen}",
            )
        done = conn.execute(
            update(ops_incidents)
            .where(ops_incidents.c.id == chosen, ops_incidents.c.status == "open")
            .values(status="closed", closed_at=now, closed_by=log.context.actor, resolution=text)
        )
        if done.rowcount != 1:  # closed by someone else between our read and our update
            raise Refused(f"incident {chosen} was closed by someone else just now", hint="see incident status")
        after = replace(before, status="closed", closed_at=now, closed_by=log.context.actor, resolution=text)
        record = log.append(
            conn,
            AuditEntry(
                action="incident.close",
                target=chosen,
                outcome="applied",
                before={"status": "open"},
                after={"status": "closed", "closed_at": now, "closed_by": after.closed_by, "resolution": text},
            ),
        )
    cleared = clear_current(rt.settings, chosen)
    return ChangeResult("closed", after, None, record.seq, current_cleared=cleared)


# -- reading commands ---------------------------------------------------------------------------


def incident_status(rt: Runtime, incident_id: str | None = None) -> StatusResult:
    chosen = which(rt, incident_id)
    with read_only(rt.engine()) as conn:
        incident = _get(conn, chosen)
        notes = _notes(conn, chosen)
        counts = conn.execute(
            select(ops_audit_log.c.outcome, func.count())
            .where(ops_audit_log.c.incident == chosen, ~ops_audit_log.c.action.startswith("incident."))
            .group_by(ops_audit_log.c.outcome)
        ).all()
    now = utcnow()
    deadline = incident.response_deadline
    sev = incident.severity_info or severity("P4")
    return StatusResult(
        incident=incident,
        current=current_incident_id(rt.settings) == chosen,
        notes=notes,
        records_by_outcome={str(outcome): int(n) for outcome, n in counts},
        now=now,
        deadline_passed=bool(deadline and incident.acknowledged_at is None and now > deadline),
        escalation=escalation_for(sev, rt.settings.proaudit_incident_contacts),
    )


def list_incidents(rt: Runtime, *, status: str | None = None, limit: int = 50) -> ListResult:
    if status not in (None, "open", "closed"):
        raise UsageError(f"--status must be open or closed, got {status!r}")
    if not 1 <= limit <= MAX_LIST:
        raise UsageError(f"--limit must be between 1 and {MAX_LIST}, got {limit}")
    stmt = select(ops_incidents).order_by(ops_incidents.c.opened_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(ops_incidents.c.status == status)
    with read_only(rt.engine()) as conn:
        rows = [Incident.from_row(r) for r in conn.execute(stmt).mappings()]
    return ListResult(rows, current_incident_id(rt.settings), status)


def page_incident(rt: Runtime, incident_id: str | None = None, *, now: datetime | None = None) -> PageResult:
    chosen = which(rt, incident_id)
    with read_only(rt.engine()) as conn:
        incident = _get(conn, chosen)
    now = now or utcnow()
    sev = incident.severity_info or severity("P4")
    esc = escalation_for(sev, rt.settings.proaudit_incident_contacts)
    closed = incident.status != "open"
    due = now >= incident.escalate_at and not closed
    notes: list[str] = []
    if incident.status != "open":
        notes.append(f"incident {chosen} is closed: nobody needs paging for it")
    elif due:
        notes.append(f"the 30-minute escalation was due at {incident.escalate_at:%H:%M} UTC: page them now too")
    if not sev.final:
        notes.append(f"{sev.level} has no final escalation in the runbook")
    return PageResult(
        incident=incident,
        now=now,
        escalate_at=incident.escalate_at,
        escalation_due=due,
        page_now=[] if closed else esc.first_responder + (esc.escalation if due else []),
        page_at_escalation=[] if due or closed else esc.escalation,
        final=esc.final,
        notes=notes,
    )


def since_opened(incident: Incident, now: datetime) -> timedelta:
    return (incident.closed_at or now) - incident.opened_at
