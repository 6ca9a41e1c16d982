"""`proaudit sandbox ...`: status, reset, serve (demo data and a simulated Paystack)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from proaudit_ops.cli.groups import group_app
from proaudit_ops.cli.runner import run, stderr

if TYPE_CHECKING:
    from proaudit_ops.runtime import Runtime
    from proaudit_ops.sandbox.serve import ServeResult

app = group_app("sandbox")


def _rate(flag: str, help_text: str) -> Any:
    return typer.Option(flag, min=0.0, max=1.0, help=help_text)


Port = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0 = any free one).")]
Host = Annotated[str, typer.Option("--host", help="Loopback only.")]
LatencyMs = Annotated[int | None, typer.Option("--latency-ms", min=0, max=600_000, help="Delay per request.")]
ErrorRate = Annotated[float | None, _rate("--error-rate", "Share of requests answered 500.")]
RateLimitRate = Annotated[float | None, _rate("--rate-limit-rate", "Share answered 429.")]
RetryAfter = Annotated[int | None, typer.Option("--retry-after", min=0, max=3600, help="Retry-After seconds.")]
TimeoutRate = Annotated[float | None, _rate("--timeout-rate", "Share never answered in time.")]
TimeoutS = Annotated[float | None, typer.Option("--timeout-s", min=0.001, max=600, help="How long they hang.")]
DropRate = Annotated[float | None, _rate("--drop-rate", "Share of POSTs done, answer lost.")]
MalformedRate = Annotated[float | None, _rate("--malformed-rate", "Share answered 200 + HTML.")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, max=2**32 - 1, help="Repeatable random faults.")]
AppStatus = Annotated[int | None, typer.Option("--app-status", min=400, max=599, help="The app answers this status.")]
AppLatencyMs = Annotated[int | None, typer.Option("--app-latency-ms", min=0, max=600_000, help="App delay.")]
AppTimeoutRate = Annotated[float | None, _rate("--app-timeout-rate", "Share of app requests that hang.")]


@app.command("status")
def status(ctx: typer.Context) -> None:
    """What the sandbox holds (created on first use) and the seeded references to practise on.

    \b
    Examples:
      proaudit sandbox status
    """
    from proaudit_ops.sandbox.home import sandbox_status

    run(ctx, lambda rt: sandbox_status(rt.settings.sandbox_db_path()), _render_summary)


@app.command("reset")
def reset(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Reset even while another proaudit process uses the sandbox.")
    ] = False,
) -> None:
    """Delete the sandbox and seed it again (timestamps relative to now).

    Refused (exit 4) while another proaudit process (a `sandbox serve`, a command) uses it, unless --force.

    \b
    Examples:
      proaudit sandbox reset
      proaudit sandbox reset --force
    """
    from proaudit_ops.sandbox.home import reset_sandbox

    run(ctx, lambda rt: reset_sandbox(rt.settings.sandbox_db_path(), force=force), _render_summary)


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: Port = 8765,
    host: Host = "127.0.0.1",
    latency_ms: LatencyMs = None,
    error_rate: ErrorRate = None,
    rate_limit_rate: RateLimitRate = None,
    retry_after: RetryAfter = None,
    timeout_rate: TimeoutRate = None,
    timeout_s: TimeoutS = None,
    drop_rate: DropRate = None,
    malformed_rate: MalformedRate = None,
    seed: Seed = None,
    app_status: AppStatus = None,
    app_latency_ms: AppLatencyMs = None,
    app_timeout_rate: AppTimeoutRate = None,
) -> None:
    """Serve the Paystack simulator and the billing app on one loopback port until Ctrl-C.

    Flags override PROAUDIT_SIM_* / PROAUDIT_APP_* environment variables.

    \b
    Examples:
      proaudit sandbox serve --port 8765
      proaudit sandbox serve --error-rate 0.2 --latency-ms 300
    """
    from proaudit_ops.sandbox.serve import serve_sandbox

    sim = {
        "latency_ms": latency_ms,
        "error_rate": error_rate,
        "rate_limit_rate": rate_limit_rate,
        "retry_after_s": retry_after,
        "timeout_rate": timeout_rate,
        "timeout_s": timeout_s,
        "drop_after_effect_rate": drop_rate,
        "malformed_rate": malformed_rate,
        "seed": seed,
    }
    app_faults = {
        "status": app_status,
        "latency_ms": app_latency_ms,
        "timeout_rate": app_timeout_rate,
    }

    def announce(url: str, db: Path) -> None:
        from proaudit_ops.sandbox.dataset import SANDBOX_SECRET_KEY

        stderr(f"serving the Paystack simulator and the billing app on {url} (Ctrl-C to stop)")
        # The sandbox key is fake and public: the served app signs and verifies with it.
        stderr("  point the tool at it (another shell):")
        stderr(
            f"  export DATABASE_URL=sqlite+pysqlite:///{db} PAYSTACK_SECRET_KEY={SANDBOX_SECRET_KEY} "
            f"PAYSTACK_BASE_URL={url} PROAUDIT_APP_BASE_URL={url}"
        )

    def call(rt: Runtime) -> ServeResult:
        db = rt.settings.sandbox_db_path()
        return serve_sandbox(
            db,
            host=host,
            port=port,
            sim_overrides=sim,
            app_overrides=app_faults,
            on_ready=lambda url: announce(url, db),
        )

    run(ctx, call, _render_served)


def _render_summary(result: object) -> None:
    from proaudit_ops.cli import render
    from proaudit_ops.cli.render import ESSENTIAL, Col
    from proaudit_ops.sandbox.home import SandboxSummary

    assert isinstance(result, SandboxSummary)
    out = render.console()
    if result.in_use_by:
        pids = ", ".join(map(str, result.in_use_by))
        stderr(f"warning: reset under running process(es) pid {pids}: they still hold the old database; restart them")
    out.print(f"sandbox: {result.path} (seeded {render.when(result.seeded_at)})")
    out.print(f"organizations: {result.organizations}   refunds at Paystack: {result.refunds}")
    counts = render.Grid([Col("what"), Col("by status", ESSENTIAL)], title="rows by status")
    for label, values in (
        ("payments (DB)", result.payments_by_status),
        ("transactions (Paystack)", result.paystack_by_status),
        ("webhook inbox", result.inbox_by_status),
    ):
        counts.add_row(label, ", ".join(f"{k} {v}" for k, v in values.items()) or "—")
    out.print(counts)
    refs = render.Grid([Col("reference", ESSENTIAL), Col("what it shows", ESSENTIAL)], title="seeded references")
    for reference, meaning in result.references.items():
        refs.add_row(reference, meaning)
    out.print(refs)
    out.print("try: proaudit payments verify PSK-STUCK-0001")


def _render_served(result: object) -> None:
    from proaudit_ops.sandbox.serve import ServeResult

    assert isinstance(result, ServeResult)
    stderr(f"stopped serving {result.url}")
