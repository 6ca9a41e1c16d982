"""`proaudit logs search`: the runbook's grep steps (Payment Failures, Webhook Failures, Appendix)."""

from __future__ import annotations

from typing import Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.options import parse_window
from proaudit_ops.cli.runner import refuse_idle_flags, run

app = group_app("logs")


@app.callback()
def _group() -> None:
    """Search the app log, its rotations and the journal (runbook grep steps)."""  # keeps `search` a subcommand


@app.command("search")
def search(
    ctx: typer.Context,
    ref: Annotated[str | None, typer.Option("--ref", help="A payment reference, e.g. PSK-STUCK-0001.")] = None,
    org: Annotated[str | None, typer.Option("--org", help="An organization id.")] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", help="A regular expression (Python syntax; at most 200 characters).")
    ] = None,
    fixed: Annotated[bool, typer.Option("--fixed", "-F", help="--grep is a literal string, not a pattern.")] = False,
    ignore_case: Annotated[bool, typer.Option("--ignore-case", "-i", help="--grep ignores case.")] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Only lines this recent, e.g. 24h (default: all).")
    ] = None,
    paths: Annotated[
        list[str] | None,
        typer.Option("--path", help="Search this log (and its rotations) instead of the configured ones; repeatable."),
    ] = None,
    no_journal: Annotated[bool, typer.Option("--no-journal", help="Leave the journal out.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many matches.")] = 200,
) -> None:
    """Search the app log, its rotations (app.log.1, app.log.2.gz) and the unit's journal; newest first.

    Criteria combine (a line must match all). Files are streamed, never loaded whole; lines are cut
    at 8 KiB. Paths come from proaudit_log_paths (the sandbox ships its own log).

    \b
    Examples:
      proaudit logs search --ref PSK-STUCK-0001
      proaudit logs search --grep 'payment|paystack|billing' -i --since 1h
      proaudit logs search --grep "KeyError: 'plan_code'" --fixed
      proaudit --json logs search --org e328d2a2-d130-5258-8202-2272ae234aa3 --path /var/log/tekvwarho/app.log
    """
    if grep is None:
        refuse_idle_flags(ctx, "--grep", {"--fixed": fixed, "--ignore-case": ignore_case})
    window = parse_window(since, "--since") if since is not None else None
    from proaudit_ops.core.logs.search import search_logs

    run(
        ctx,
        lambda rt: search_logs(
            rt,
            ref=ref,
            org=org,
            grep=grep,
            fixed=fixed,
            ignore_case=ignore_case,
            since=window,
            paths=paths,
            journal=not no_journal,
            limit=limit,
        ),
        _render,
    )


def _render(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.logs.search import LogSearchResult

    assert isinstance(result, LogSearchResult)
    out = render.console()
    for match in result.matches:
        out.print(f"{match.source}:{match.line_number}: {match.text}", markup=False, highlight=False, soft_wrap=True)
    searched = [s for s in result.sources if s.skipped is None or s.lines_read]
    skipped = [s for s in result.sources if s.skipped is not None and not s.lines_read]
    what = ", ".join(f"{k}={v}" for k, v in result.criteria.items())
    count = f"{len(result.matches)} match{'es' if len(result.matches) != 1 else ''}"
    more = f" (the newest {result.limit}; raise --limit for more)" if result.more else ""
    out.print(f"{count} for {what}{more} in {len(searched)} source(s)", markup=False, highlight=False)
    for source in skipped:
        if source.skipped not in ("not found", "not needed: enough newer matches"):
            out.print(f"skipped {source.source}: {source.skipped}", markup=False, highlight=False)
    for note in result.notes:
        out.print(note, markup=False)
