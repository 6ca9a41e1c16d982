"""`proaudit incident ...`: open, ack, note, status, page, close, list, report (runbook: Incident
Classification, Escalation Matrix, Post-Incident Review)."""

from __future__ import annotations

from typing import Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.runner import run

app = group_app("incident")

IncidentArg = Annotated[
    str | None, typer.Argument(help="The incident id (default: --incident, PROAUDIT_INCIDENT, or the current one).")
]


@app.command("open")
def open_(
    ctx: typer.Context,
    severity: Annotated[str, typer.Option("--severity", help="P1 (critical) .. P4 (low), as the runbook defines.")],
    title: Annotated[str, typer.Option("--title", help="What is wrong, in a line.")],
    incident_id: Annotated[
        str | None, typer.Option("--id", help="Use this id (e.g. the pager's INC-1234) instead of a new one.")
    ] = None,
) -> None:
    """Open an incident: prints the escalation matrix for its severity, the response deadline and its id,
    and makes it the current incident (later commands tag their audit records with it).

    \b
    Examples:
      proaudit incident open --severity P2 --title "Webhooks failing, payments stuck"
      proaudit incident open --severity P1 --title "All payments failing" --id INC-1234
    """
    from proaudit_ops.core.incident.ops import open_incident

    run(ctx, lambda rt: open_incident(rt, level=severity, title=title, incident_id=incident_id), _render_open)


@app.command("ack")
def ack(ctx: typer.Context, incident: IncidentArg = None) -> None:
    """Record that you acknowledged the incident (the report's "acknowledged" time).

    \b
    Examples:
      proaudit incident ack
      proaudit incident ack INC-1234
    """
    from proaudit_ops.core.incident.ops import acknowledge

    run(ctx, lambda rt: acknowledge(rt, incident), _render_change)


@app.command("note")
def note(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The note (quote it).")],
    incident: Annotated[str | None, typer.Option("--id", help="The incident (default: the current one).")] = None,
) -> None:
    """Add a note to the incident's timeline; everyone on the incident sees it.

    \b
    Examples:
      proaudit incident note "Paystack status page: webhooks degraded since 02:10"
      proaudit incident note --id INC-1234 "Customer Bluewave confirmed access restored"
    """
    from proaudit_ops.core.incident.ops import add_note

    run(ctx, lambda rt: add_note(rt, text, incident), _render_change)


@app.command("status")
def status(ctx: typer.Context, incident: IncidentArg = None) -> None:
    """The incident now: severity, deadline, escalation, its notes and the changes made under it.

    \b
    Examples:
      proaudit incident status
      proaudit --json incident status INC-1234
    """
    from proaudit_ops.core.incident.ops import incident_status

    run(ctx, lambda rt: incident_status(rt, incident), _render_status)


@app.command("page")
def page(ctx: typer.Context, incident: IncidentArg = None) -> None:
    """Whom to page now and whom at the 30-minute escalation (the runbook's matrix and contacts).

    \b
    Examples:
      proaudit incident page
      proaudit incident page INC-1234
    """
    from proaudit_ops.core.incident.ops import page_incident

    run(ctx, lambda rt: page_incident(rt, incident), _render_page)


@app.command("close")
def close(
    ctx: typer.Context,
    incident: IncidentArg = None,
    resolution: Annotated[
        str | None, typer.Option("--resolution", help="How it was resolved (goes in the report).")
    ] = None,
) -> None:
    """Close the incident (no longer current); the report can then be written.

    \b
    Examples:
      proaudit incident close --resolution "Replayed 3 failed webhooks; payments verified"
      proaudit incident close INC-1234
    """
    from proaudit_ops.core.incident.ops import close_incident

    run(ctx, lambda rt: close_incident(rt, resolution, incident), _render_change)


@app.command("list")
def list_(
    ctx: typer.Context,
    status_filter: Annotated[str | None, typer.Option("--status", help="open or closed (default: both).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")] = 50,
) -> None:
    """Incidents, newest first; the current one is marked.

    \b
    Examples:
      proaudit incident list
      proaudit incident list --status open
    """
    from proaudit_ops.core.incident.ops import list_incidents

    run(ctx, lambda rt: list_incidents(rt, status=status_filter, limit=limit), _render_list)


@app.command("report")
def report(
    ctx: typer.Context,
    incident: IncidentArg = None,
    out: Annotated[str | None, typer.Option("--out", metavar="FILE", help="Write the report here (Markdown).")] = None,
) -> None:
    """The runbook's post-incident template, filled in from the incident, its notes and the audit log:
    timeline, affected customers, amount at stake; what a person must write is marked [TO WRITE].

    \b
    Examples:
      proaudit incident report INC-1234
      proaudit incident report INC-1234 --out INC-1234.md
    """
    from proaudit_ops.core.incident.report import incident_report

    run(ctx, lambda rt: incident_report(rt, incident, out=out), _render_report)


# -- rendering --------------------------------------------------------------------------------


def _contacts_table(title: str, rows: list[tuple[str, list[object]]]) -> object:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col

    table = render.Grid([Col("when"), Col("role", ESSENTIAL), Col("contact", ESSENTIAL)], title=title)
    for when, contacts in rows:
        for contact in contacts or []:
            table.add_row(when, getattr(contact, "role", ""), getattr(contact, "contact", ""))
        if not contacts:
            table.add_row(when, "—", "—")
    return table


def _render_open(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.incident.ops import OpenResult
    from proaudit_ops.timeutil import format_duration

    assert isinstance(result, OpenResult)
    out = render.console()
    inc, esc = result.incident, result.escalation
    out.print(f"incident {inc.id} opened: {inc.severity} {esc.severity.name}: {inc.title}", markup=False)
    out.print(
        f"respond by {result.response_deadline:%H:%M} UTC ({format_duration(esc.severity.response_time)} "
        f"from {inc.opened_at:%H:%M} UTC); escalate at {result.escalate_at:%H:%M} UTC",
        markup=False,
    )
    out.print(
        _contacts_table(
            f"escalation matrix for {inc.severity}",
            [("now", list(esc.first_responder)), ("after 30 min", list(esc.escalation)), ("final", list(esc.final))],
        )
    )
    if result.replaced:
        out.print(f"(was current: {result.replaced}; still open)", markup=False)
    out.print(f"current incident: {inc.id} (later commands tag their audit records with it)", markup=False)
    out.print("next: proaudit incident ack; proaudit incident page", markup=False)


def _render_change(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.incident.ops import ChangeResult

    assert isinstance(result, ChangeResult)
    out = render.console()
    inc = result.incident
    if result.note is not None:
        out.print(f"note added to {inc.id} at {result.note.ts:%H:%M} UTC by {result.note.author}", markup=False)
    elif result.action == "acknowledged":
        out.print(f"{inc.id} acknowledged at {inc.acknowledged_at:%H:%M} UTC by {inc.acknowledged_by}", markup=False)
    else:
        out.print(f"{inc.id} closed at {inc.closed_at:%H:%M} UTC by {inc.closed_by}", markup=False)
        if inc.resolution:
            out.print(f"resolution: {inc.resolution}", markup=False)
        out.print("no current incident now" if result.current_cleared else f"({inc.id} was not the current incident)")
        out.print(f"next: proaudit incident report {inc.id} --out {inc.id}.md", markup=False)
    out.print(f"status: {inc.status}; audit record #{result.audit_seq}", markup=False)


def _render_status(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.core.incident.ops import StatusResult, since_opened
    from proaudit_ops.timeutil import format_duration

    assert isinstance(result, StatusResult)
    out = render.console()
    inc = result.incident
    current = " (current)" if result.current else ""
    out.print(f"{inc.id}{current}: {inc.severity} {inc.status}: {inc.title}", markup=False)
    out.print(
        f"opened {inc.opened_at:%Y-%m-%d %H:%M} UTC by {inc.opened_by}; "
        f"{format_duration(since_opened(inc, result.now))} {'so far' if inc.status == 'open' else 'in all'}",
        markup=False,
    )
    deadline = inc.response_deadline
    if inc.acknowledged_at:
        out.print(f"acknowledged {inc.acknowledged_at:%H:%M} UTC by {inc.acknowledged_by}", markup=False)
    elif deadline is not None:
        style = "bold red" if result.deadline_passed else "yellow"
        out.print(f"[{style}]not acknowledged[/]; respond by {deadline:%H:%M} UTC")
    if inc.closed_at:
        out.print(f"closed {inc.closed_at:%H:%M} UTC by {inc.closed_by}: {inc.resolution or '—'}", markup=False)
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(result.records_by_outcome.items())) or "none"
    out.print(f"changes under this incident: {counts}", markup=False)
    table = render.Grid([Col("time", ESSENTIAL), Col("author"), Col("note", ESSENTIAL)], title="notes")
    for n in result.notes:
        table.add_row(f"{n.ts:%H:%M}", n.author, n.text)
    out.print(table if result.notes else "no notes yet")


def _render_page(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.incident.ops import PageResult

    assert isinstance(result, PageResult)
    out = render.console()
    inc = result.incident
    out.print(f"{inc.id}: {inc.severity} {inc.status}: {inc.title}", markup=False)
    rows: list[tuple[str, list[object]]] = [("page now", list(result.page_now))]
    if result.page_at_escalation:
        rows.append((f"at {result.escalate_at:%H:%M} UTC", list(result.page_at_escalation)))
    rows.append(("final escalation", list(result.final)))
    out.print(_contacts_table(f"whom to page ({inc.severity})", rows))
    for line in result.notes:
        out.print(line, markup=False)


def _render_list(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, FOLD, OPTIONAL, Col
    from proaudit_ops.core.incident.ops import ListResult

    assert isinstance(result, ListResult)
    out = render.console()
    table = render.Grid(
        [
            Col("id", ESSENTIAL),
            Col("sev", ESSENTIAL),
            Col("status", ESSENTIAL),
            Col("opened", OPTIONAL),
            Col("by", OPTIONAL),
            Col("title", FOLD),
        ],
        title="incidents",
    )
    for inc in result.incidents:
        mark = " *" if inc.id == result.current else ""
        table.add_row(
            inc.id + mark, inc.severity or "—", inc.status, f"{inc.opened_at:%Y-%m-%d %H:%M}", inc.opened_by, inc.title
        )
    out.print(table if result.incidents else "no incidents")
    if result.current:
        out.print(f"* current: {result.current}", markup=False)


def _render_report(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.incident.report import ReportResult

    assert isinstance(result, ReportResult)
    if result.written_to is not None:
        render.console().print(
            f"report for {result.incident.id} written to {result.written_to} "
            f"({len(result.timeline)} timeline entries, {len(result.changes)} changes)",
            markup=False,
        )
        return
    import sys

    sys.stdout.write(result.markdown)
