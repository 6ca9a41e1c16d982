"""`proaudit audit log|show|verify|ship`, and `proaudit apply FILE` (a saved plan)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, ShowSql, Yes, apply_options, render_guard_result
from proaudit_ops.cli.runner import run, run_plain

if TYPE_CHECKING:
    from datetime import timedelta

    from proaudit_ops.audit.ops import AuditListing, ChainReport, CheckpointWritten
    from proaudit_ops.protocols.saved_plan import SavedPlanResult
    from proaudit_ops.runtime import Runtime

app = group_app("audit")


@app.command("log")
def log(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Records from this window (e.g. 24h, 7d); default 24h, or all of an --incident."),
    ] = None,
    incident: Annotated[
        str | None, typer.Option("--incident", help="Only this incident id (also the global --incident).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Operator or OS user (substring).")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only this target (e.g. a reference).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (newest), 1..10000.")] = 50,
) -> None:
    """List audit records, oldest first (read-only).

    \b
    Examples:
      proaudit audit log
      proaudit audit log --incident INC-1234
      proaudit audit log --target PSK-STUCK-0001 --since 7d
    """
    from proaudit_ops.audit.ops import list_records

    def call(rt: Runtime) -> AuditListing:
        window = None if since is None else _window(since)
        # The global --incident (or PROAUDIT_INCIDENT) tags what this session writes: list those.
        return list_records(
            rt.engine(), since=window, incident=incident or rt.incident, actor=actor, target=target, limit=limit
        )

    run(ctx, call, _render_log)


def _window(text: str) -> timedelta:
    """A bad or overflowing --since is one line, exit 2 (through the funnel)."""
    from proaudit_ops.errors import UsageError
    from proaudit_ops.timeutil import parse_duration

    try:
        return parse_duration(text)
    except (ValueError, OverflowError) as exc:
        detail = str(exc) if isinstance(exc, ValueError) else f"{text!r} is too large"
        raise UsageError(f"--since: {detail}", hint="e.g. --since 24h or 30d (at most 36500d)") from None


@app.command("show")
def show(
    ctx: typer.Context,
    seq: Annotated[int, typer.Argument(help="The record's sequence number.")],
) -> None:
    """One audit record in full: before, after, external ids, its hashes.

    \b
    Examples:
      proaudit audit show 42
    """
    from proaudit_ops.audit.ops import show_record

    run(ctx, lambda rt: show_record(rt.engine(), seq), _render_show)


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="PATH", help="Verify only this fallback JSONL file (offline)."),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Check against the latest checkpoint in this file (default: the configured checkpoint file).",
        ),
    ] = None,
) -> None:
    """Walk the hash chain, check it against the latest signed checkpoint (exit 1 on a break).

    \b
    Examples:
      proaudit audit verify
      proaudit audit verify --file ~/.local/share/proaudit/audit-fallback.jsonl
    """
    from proaudit_ops.audit.ops import verify_log
    from proaudit_ops.cli.progress import progress_bar

    if file is not None:

        def offline() -> tuple[ChainReport, int]:
            report = verify_log(None, file)
            return report, int(report.exit_code)

        run_plain(ctx, offline, _render_verify)
        return

    def call(rt: Runtime) -> ChainReport:
        with progress_bar("verifying the audit chain") as progress:
            return verify_log(
                rt.engine(),
                rt.settings.audit_fallback_path(),
                checkpoints=rt.audit_log().checkpoints,
                checkpoint_file=checkpoint,
                progress=progress,
            )

    run(ctx, call, _render_verify, exit_code=lambda r: r.exit_code)


@app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Verify the chain, then sign its head (seq, hash, count, time) into the checkpoint file.

    \b
    Examples:
      proaudit audit checkpoint
    """
    from proaudit_ops.audit.ops import write_checkpoint
    from proaudit_ops.cli.progress import progress_bar

    def call(rt: Runtime) -> CheckpointWritten:
        store = rt.audit_log().checkpoints
        assert store is not None
        with progress_bar("verifying the audit chain") as progress:
            return write_checkpoint(rt.engine(), store, progress)

    run(ctx, call, _render_checkpoint)


@app.command("ship")
def ship(ctx: typer.Context) -> None:
    """Move the fallback file's records (written while the database was down) into the table.

    \b
    Examples:
      proaudit audit ship
    """
    run(ctx, lambda rt: rt.audit_log().ship(rt.engine()), _render_ship)


def apply_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A plan saved with --plan-out.", metavar="FILE")],
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
    show_sql: ShowSql = False,
) -> None:
    """Apply a saved plan exactly as reviewed; refused if edited, or if any of its rows changed.

    \b
    Examples:
      proaudit apply stuck.json
      proaudit apply stuck.json --yes
    """
    from proaudit_ops.cli.confirm import confirm
    from proaudit_ops.protocols.saved_plan import apply_plan_file

    def call(rt: Runtime) -> SavedPlanResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None)
        return apply_plan_file(rt.guard(), file, options, confirm, show_sql=show_sql)

    run(ctx, call, lambda r: _render_apply(r, show_sql), exit_code=lambda r: r.exit_code)


# -- rendering --------------------------------------------------------------------------------


def _render_log(result: object) -> None:
    from rich.text import Text

    from proaudit_ops.audit.ops import AuditListing
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col

    assert isinstance(result, AuditListing)
    out = render.console()
    scope = f" of incident {result.incident}" if result.incident else ""
    window = f" since {render.when(result.since)}" if result.since is not None else ""
    if not result.records:
        out.print(f"no audit records{scope}{window}", markup=False)
        return
    table = render.Grid(
        [
            Col("seq", ESSENTIAL, "right"),
            Col("time", ESSENTIAL),
            Col("actor", OPTIONAL),
            Col("incident", OPTIONAL),
            Col("action", ESSENTIAL),
            Col("target", ESSENTIAL),
            Col("outcome", ESSENTIAL),
        ],
        title=f"audit records{scope}{window}",
    )
    for r in result.records:
        style = _OUTCOME_STYLE.get(r.outcome, "")
        table.add_row(
            str(r.seq),
            render.when(r.ts),
            r.actor,
            render.text(r.incident),
            r.action,
            render.text(r.target),
            Text(r.outcome, style=style),
        )
    out.print(table)
    if len(result.records) == result.limit:
        out.print(f"(the newest {result.limit}; raise --limit for more)", markup=False)


_OUTCOME_STYLE = {
    "applied": "green",
    "planned": "cyan",
    "refused": "yellow",
    "aborted": "yellow",
    "failed": "bold red",
    "unknown": "bold yellow",
}


def _render_show(result: object) -> None:
    import json

    from proaudit_ops.audit.records import AuditRecord
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col

    assert isinstance(result, AuditRecord)
    table = render.Grid([Col("field"), Col("value", ESSENTIAL)], title=f"audit record {result.seq}", show_header=False)
    for name, value in (
        ("time", render.when(result.ts)),
        ("actor", result.actor),
        ("host", result.host),
        ("command", result.command),
        ("incident", render.text(result.incident)),
        ("action", result.action),
        ("target", render.text(result.target)),
        ("outcome", result.outcome),
    ):
        table.add_row(name, value)
    for name, data in (
        ("before", result.before),
        ("after", result.after),
        ("external ids", result.external_ids),
    ):
        table.add_row(name, "—" if data is None else json.dumps(data, indent=2, ensure_ascii=False))
    table.add_row("prev_hash", result.prev_hash)
    table.add_row("hash", result.hash)
    render.console().print(table, markup=False)


def _render_verify(result: object) -> None:
    from proaudit_ops.audit.ops import ChainReport
    from proaudit_ops.cli import render

    assert isinstance(result, ChainReport)
    out = render.console()
    for name, check in (
        ("table ops_audit_log", result.table),
        (f"fallback file {result.file_path}", result.file),
    ):
        if check is None:
            continue
        if check.ok:
            head = f", head {check.head_hash[:12]}… at seq {check.last_seq}" if check.head_hash else ""
            out.print(f"[green]ok[/]: {name}: {check.checked} record(s) verified{head}")
        else:
            out.print(
                f"[bold red]BROKEN[/]: {name}: first bad record seq {check.first_bad_seq} "
                f"({check.problem}): {check.detail}; {check.checked} record(s) before it verified"
            )
    cp_check = result.checkpoint
    if cp_check is not None:
        if cp_check.checkpoint is None:
            out.print(f"[yellow]note[/]: {cp_check.detail}", markup=True, highlight=False)
        elif cp_check.ok:
            out.print(f"[green]ok[/]: checkpoint {cp_check.path}: {cp_check.detail}", highlight=False)
        else:
            out.print(
                f"[bold red]BROKEN[/]: checkpoint {cp_check.path} ({cp_check.problem}): {cp_check.detail}",
                highlight=False,
            )
    if result.file is not None and result.file.ok:
        out.print("the fallback file holds records not yet in the table: run `proaudit audit ship`")


def _render_checkpoint(result: object) -> None:
    from proaudit_ops.audit.canonical import ts_iso
    from proaudit_ops.audit.ops import CheckpointWritten
    from proaudit_ops.cli import render

    assert isinstance(result, CheckpointWritten)
    cp = result.checkpoint
    render.console().print(
        f"checkpoint written to {result.path}: seq {cp.seq}, hash {cp.hash[:12]}…, {cp.count} record(s), "
        f"{ts_iso(cp.ts)}, signed with key {cp.key_id}",
        markup=False,
        highlight=False,
    )


def _render_ship(result: object) -> None:
    from proaudit_ops.audit.log import ShipResult
    from proaudit_ops.cli import render

    assert isinstance(result, ShipResult)
    out = render.console()
    if result.source is None:
        out.print("nothing to ship: no fallback file")
        return
    seqs = f" as seq {result.first_seq}..{result.last_seq}" if result.shipped else ""
    skipped = f", {result.skipped} already shipped" if result.skipped else ""
    out.print(
        f"shipped {result.shipped} record(s){seqs}{skipped}; the file is now {result.renamed_to}",
        markup=False,
    )


def _render_apply(result: object, show_sql: bool) -> None:
    from proaudit_ops.protocols.saved_plan import SavedPlanResult

    assert isinstance(result, SavedPlanResult)
    render_guard_result(result.guard, show_sql=show_sql, sql=result.sql)


apply_app = group_app("apply", no_args_is_help=False)
apply_app.command("apply")(apply_command)
