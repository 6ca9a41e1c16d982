"""`proaudit webhooks ...`: sign, verify-signature, test, replay, retry-failed, gaps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.mutation import DryRun, Live, Yes, apply_options
from proaudit_ops.cli.options import MAX_HOURS, check_endpoint_url
from proaudit_ops.cli.runner import refuse_idle_flags, run

if TYPE_CHECKING:
    from proaudit_ops.core.webhooks.endpoint import EndpointTest
    from proaudit_ops.core.webhooks.gaps import GapsResult
    from proaudit_ops.core.webhooks.replay import ReplayResult
    from proaudit_ops.core.webhooks.retry_failed import RetryFailedResult
    from proaudit_ops.runtime import Runtime

app = group_app("webhooks")

# A str, not a Path: typer turns an empty path into ".", which would hide the mistake.
BodyFile = Annotated[
    str, typer.Option("--file", "-f", metavar="PATH", help="The raw request body, byte for byte (at most 1 MiB).")
]
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        callback=check_endpoint_url,
        help="The app's webhook endpoint URL (default: PROAUDIT_APP_BASE_URL + path; the sandbox app in sandbox mode).",
    ),
]
Concurrency = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, max=64, help="Parallel deliveries (default 8)."),
]


@app.command("sign")
def sign(ctx: typer.Context, file: BodyFile) -> None:
    """Sign a body with the configured secret key (offline): prints x-paystack-signature.

    \b
    Examples:
      proaudit webhooks sign --file body.json
    """
    from proaudit_ops.core.webhooks.body import read_body
    from proaudit_ops.core.webhooks.signing import sign as sign_body

    run(ctx, lambda rt: sign_body(read_body(file), rt.secret_key()), _render_sign)


@app.command("verify-signature")
def verify_signature(
    ctx: typer.Context,
    file: BodyFile,
    signature: Annotated[str, typer.Option("--signature", "-s", help="The x-paystack-signature header value.")],
) -> None:
    """Check a signature offline and explain a failure (exit 0 valid, 1 invalid).

    \b
    Examples:
      proaudit webhooks verify-signature --file body.json --signature 5d41402abc4b2a76...
    """
    from proaudit_ops.core.webhooks.body import read_body
    from proaudit_ops.core.webhooks.signing import check_signature

    run(
        ctx,
        lambda rt: check_signature(read_body(file), signature, rt.secret_key()),
        _render_check,
        exit_code=lambda r: r.exit_code,
    )


@app.command("test")
def endpoint_test(
    ctx: typer.Context,
    url: Url = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Send a signed and a wrongly signed event: pass only if the first is accepted and the second rejected.

    With a live key the probe reaches the production inbox: it needs --live and a confirmation (or --yes).

    \b
    Examples:
      proaudit webhooks test
      proaudit webhooks test --url https://api.example.com/api/v1/billing/webhook/paystack
    """
    from proaudit_ops.cli.confirm import confirm_proposal
    from proaudit_ops.core.webhooks.endpoint import probe_endpoint

    def call(rt: Runtime) -> EndpointTest:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None)
        return probe_endpoint(rt, url, options, confirm_proposal)

    run(ctx, call, _render_test, exit_code=lambda r: r.exit_code)


@app.command("replay")
def replay(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="The Paystack reference whose charge.success the app missed.")],
    url: Url = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Rebuild charge.success from Paystack's data, sign it, and deliver it to the app (audited).

    \b
    Examples:
      proaudit webhooks replay PSK-STUCK-0001 --dry-run
      proaudit webhooks replay PSK-STUCK-0001 --yes
    """
    from proaudit_ops.cli.confirm import confirm_proposal
    from proaudit_ops.core.webhooks.replay import replay as replay_event

    def call(rt: Runtime) -> ReplayResult:
        return replay_event(
            rt,
            reference,
            apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None),
            confirm_proposal,
            url,
        )

    run(ctx, call, _render_replay, exit_code=lambda r: r.exit_code)


@app.command("retry-failed")
def retry_failed(
    ctx: typer.Context,
    hours: Annotated[
        int,
        typer.Option("--hours", min=1, max=MAX_HOURS, help="Failed events received within this many hours."),
    ] = 24,
    event: Annotated[str | None, typer.Option("--event", help="Only this event type, e.g. charge.success.")] = None,
    concurrency: Concurrency = None,
    url: Url = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Redeliver the inbox's failed events (original bytes, fresh signature); exit 1 if any still fail.

    \b
    Examples:
      proaudit webhooks retry-failed --hours 24 --dry-run
      proaudit webhooks retry-failed --hours 24 --yes
    """
    from proaudit_ops.cli.confirm import confirm_proposal
    from proaudit_ops.cli.progress import progress_bar
    from proaudit_ops.core.webhooks.retry_failed import retry_failed as redeliver

    def call(rt: Runtime) -> RetryFailedResult:
        options = apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None)
        workers = concurrency or rt.settings.proaudit_concurrency
        with progress_bar("redelivering") as progress:
            return redeliver(
                rt,
                hours=hours,
                event_type=event,
                concurrency=workers,
                options=options,
                confirm=confirm_proposal,
                url=url,
                progress=progress,
            )

    run(ctx, call, _render_retry, exit_code=lambda r: r.exit_code)


@app.command("gaps")
def gaps(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window of Paystack successes to scan.")] = "24h",
    replay: Annotated[
        bool, typer.Option("--replay", help="Replay every gap to the app (same path as `replay`).")
    ] = False,
    url: Url = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    live: Live = False,
) -> None:
    """Payments Paystack reports as success that the app never processed.

    \b
    Examples:
      proaudit webhooks gaps --since 24h
      proaudit webhooks gaps --since 30d --replay --dry-run
    """
    from proaudit_ops.cli.options import parse_window

    if not replay:
        flags = {"--url": url is not None, "--dry-run": dry_run, "--yes": yes, "--live": live}
        refuse_idle_flags(ctx, "--replay", flags)
    from proaudit_ops.core.webhooks.gaps import find_gaps, replay_gaps

    window = parse_window(since, "--since")

    def call(rt: Runtime) -> GapsResult:
        if not replay:
            return find_gaps(rt, window)
        from proaudit_ops.cli.confirm import confirm_proposal

        return replay_gaps(
            rt,
            window,
            apply_options(rt, dry_run=dry_run, yes=yes, live=live, plan_out=None),
            confirm_proposal,
            url,
        )

    run(ctx, call, _render_gaps, exit_code=lambda r: r.exit_code)


# -- rendering --------------------------------------------------------------------------------


def _render_sign(result: object) -> None:
    from proaudit_ops.core.webhooks.signing import SignResult

    assert isinstance(result, SignResult)
    typer.echo(result.signature)


def _render_check(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.core.webhooks.signing import SignatureCheck

    assert isinstance(result, SignatureCheck)
    out = render.console()
    style = render.STYLE_BY_HEALTH[result.exit_code == 0]
    out.print(f"[{style}]{result.verdict.value}[/]: {result.explanation}", markup=True)
    if result.next_step:
        out.print(f"next: {result.next_step}", markup=False)


def _delivery_row(label: str, d: object) -> list[str]:
    from proaudit_ops.core.webhooks.delivery import Delivery

    assert isinstance(d, Delivery)
    return [
        label,
        str(d.status_code) if d.status_code is not None else "—",
        f"{d.latency_ms} ms",
        d.error or "",
    ]


def _render_test(result: object) -> None:
    from rich.text import Text

    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.webhooks.endpoint import EndpointTest

    assert isinstance(result, EndpointTest)
    out = render.console()
    if result.outcome in ("planned", "aborted"):
        what = "would be sent" if result.outcome == "planned" else "was not sent"
        out.print(f"a test event (one signed, two forged) {what} to {result.url}", markup=False)
        note = "dry run" if result.outcome == "planned" else "not confirmed"
        out.print(f"[yellow]{result.outcome}[/]: nothing was sent ({note})")
        return
    # The error column is the start of the app's answer body: it may fold; the diagnosis below says what it means.
    table = render.Grid(
        [Col("request"), Col("status", ESSENTIAL), Col("latency", OPTIONAL, "right"), Col("error")],
        title=f"webhook endpoint {result.url}",
    )
    for label, delivery in (
        ("signed (must be accepted)", result.signed),
        ("wrong signature (must be rejected)", result.wrongly_signed),
        ("no signature (must be rejected)", result.unsigned),
    ):
        if delivery is not None:
            table.add_row(*_delivery_row(label, delivery))
    out.print(table)
    verdict = ("pass", "green") if result.passed else ("fail", "bold red")
    out.print(Text.assemble(verdict, ": ", result.diagnosis))  # the app's words are not markup


def _render_replay(result: object) -> None:
    import json

    from proaudit_ops.cli import render
    from proaudit_ops.core.webhooks.replay import ReplayResult

    assert isinstance(result, ReplayResult)
    out = render.console()
    if result.outcome == "planned":
        out.print(f"POST {result.url}", markup=False)
        out.print("Content-Type: application/json", markup=False)
        out.print(f"x-paystack-signature: {result.signature}", markup=False)
        out.print(json.dumps(result.event, indent=2, sort_keys=True), markup=False)
        out.print("[yellow]planned[/]: nothing was sent (dry run)")
    elif result.outcome == "aborted":
        out.print("[yellow]aborted[/]: nothing was sent")
    elif result.delivery is not None:
        from rich.text import Text

        from proaudit_ops.cli.payments import _render_entitlement

        d = result.delivery
        if result.outcome == "rejected":
            line = Text.assemble(("rejected", "bold red"), f" charge.success for {result.reference}: {d.describe()}")
            out.print(line)
        else:
            out.print(f"[green]delivered[/] charge.success for {result.reference}: {d.describe()}")
        out.print(Text.assemble("the app answered: ", d.said()))  # the app's words are not markup
        ent = result.entitlement
        if result.still_pending:
            out.print(f"[bold red]not applied[/]: the payment {result.reference} is still pending in the database")
        elif ent is not None and ent.status in ("entitled", "not_entitled", "unknown"):
            _render_entitlement(ent, "subscription now")
        elif ent is not None:
            out.print(f"subscription now: {ent.explanation}", markup=False)
        if result.exit_code == 1 and (result.outcome == "rejected" or result.still_pending):
            out.print(f"next: proaudit payments verify {result.reference}", markup=False)
        elif result.exit_code == 1:
            out.print(f"next: proaudit payments verify {result.reference} --fix", markup=False)


def _render_retry(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.webhooks.retry_failed import RetryFailedResult

    assert isinstance(result, RetryFailedResult)
    out = render.console()
    if result.outcome == "nothing":
        out.print(f"no failed webhook events since {render.when(result.since)}")
        return
    if result.outcome in ("planned", "aborted"):
        for label in result.pending:
            out.print(label, markup=False)
        out.print(
            f"[yellow]{result.outcome}[/]: {len(result.pending)} event(s) would be redelivered to {result.url}; "
            "nothing was sent"
        )
        return
    table = render.Grid(
        [
            Col("event", OPTIONAL),
            Col("reference", ESSENTIAL),
            Col("status", ESSENTIAL),
            Col("latency", OPTIONAL, "right"),
            Col("inbox", ESSENTIAL),
            Col("outcome", ESSENTIAL),
            Col("error", ESSENTIAL),
        ],
        title=f"redelivered to {result.url}",
    )
    for r in result.redeliveries:
        d = r.delivery
        table.add_row(
            r.event_type,
            render.text(r.reference),
            render.text(d.status_code),
            f"{d.latency_ms} ms",
            render.text(r.inbox_status),
            r.verdict,
            d.error or r.inbox_error or "",
        )
    out.print(table)
    # The same verdicts as the audit records (applied / failed / unknown).
    failing, unknown = len(result.still_failing), len(result.unknown)
    style = "green" if not failing and not unknown else "bold red"
    tail = f", {unknown} unknown (no answer: check the app, then rerun)" if unknown else ""
    out.print(f"[{style}]{len(result.delivered)} delivered, {failing} still failing{tail}[/]")


def _render_gaps(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col
    from proaudit_ops.core.webhooks.gaps import GapsResult

    assert isinstance(result, GapsResult)
    out = render.console()
    table = render.Grid(
        [
            Col("reference", ESSENTIAL),
            Col("amount", ESSENTIAL, "right"),
            Col("paid_at", ESSENTIAL),
            Col("database", OPTIONAL),
            Col("why", ESSENTIAL),
        ],
        title=f"Paystack successes since {render.when(result.since)} the app never processed",
    )
    for gap in result.gaps:
        table.add_row(
            gap.reference,
            gap.amount.format(),
            render.when(gap.paid_at),
            gap.database_status,
            gap.reason,
        )
    out.print(table)
    out.print(f"scanned {result.scanned} Paystack successes: {len(result.gaps)} gap(s)")
    if result.not_in_database:
        out.print(
            f"{len(result.not_in_database)} not in this database (another integration? check with payments verify): "
            + ", ".join(result.not_in_database[:10]),
            markup=False,
        )
    if result.outcome == "delivered":
        ok = sum(1 for r in result.replays if r.verdict == "delivered")
        unknown = sum(1 for r in result.replays if r.verdict == "unknown")
        tail = f", {unknown} unknown (no answer)" if unknown else ""
        out.print(f"replayed: {ok} accepted, {len(result.replays) - ok - unknown} failed{tail}")
        for r in result.replays:
            ent = r.entitlement
            covered = f"; subscription {ent.status.replace('_', ' ')}" if ent is not None and ent.tier else ""
            if r.verdict != "delivered":
                out.print(f"  {r.reference}: {r.verdict}: {r.delivery.describe()}; {r.delivery.said()}", markup=False)
            else:
                out.print(f"  {r.reference}: the app answered {r.delivery.said()}{covered}", markup=False)
    elif result.outcome in ("planned", "aborted"):
        out.print(f"[yellow]{result.outcome}[/]: nothing was sent")
    elif result.gaps:
        out.print("next: proaudit webhooks gaps --since ... --replay", markup=False)
    _render_not_entitled(result)


def _render_not_entitled(result: GapsResult) -> None:
    """Paid on both sides, not entitled: a replay cannot fix these (the app says already applied)."""
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, OPTIONAL, Col

    if not result.not_entitled:
        return
    out = render.console()
    table = render.Grid(
        [
            Col("reference", ESSENTIAL),
            Col("amount", OPTIONAL, "right"),
            Col("paid until", OPTIONAL),
            Col("why", ESSENTIAL),
            Col("fix", ESSENTIAL),
        ],
        title="paid, but the customer is not entitled (a replay changes nothing: the app says already applied)",
    )
    for item in result.not_entitled:
        ent = item.entitlement
        table.add_row(
            item.reference, item.amount.format(), render.when(ent.paid_until), ent.explanation, item.next_step
        )
    out.print(table)
    out.print(f"[bold red]{len(result.not_entitled)} paid but not entitled[/]: fix each with payments verify --fix")
