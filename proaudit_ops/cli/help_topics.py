"""`proaudit help TOPIC`: plain-text pages on exit codes, configuration and the mutation protocol.

EXIT_CODES is the one source for the exit-code page; the README's table must agree with it
(tests/incident/test_help_topics.py checks both against errors.ExitCode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from proaudit_ops.cli.groups import group_app

app = group_app("help", no_args_is_help=False)

# code, status name (the --json envelope's), meaning and what cron should do: the README's table, word for word.
EXIT_CODES: tuple[tuple[int, str, str, str], ...] = (
    (
        0,
        "ok",
        "ok",
        "—",
    ),
    (
        1,
        "finding",
        "finding: a check found drift, a mismatch, "
        "a breached threshold (`payments status` `stalled`: payments started, none completed), "
        "a truncated or rebuilt audit chain",
        "alert",
    ),
    (
        2,
        "usage_error",
        "usage or bad input, "
        "nothing was changed: a malformed reference (the message names the character), "
        "a number or duration out of range, a file that is not a regular file or too large, "
        "a bad config file, profile or value, a plan file whose values do not fit the schema, "
        "`--dry-run`/`--yes`/`--plan-out` given without `--fix`",
        "fix the command",
    ),
    (
        3,
        "unavailable",
        "a dependency is unavailable: Paystack, "
        'the database (including "statement timeout after N s"), Redis, the app endpoint',
        "page if it persists",
    ),
    (
        4,
        "refused",
        "refused: guard failed, stale plan (any column changed), "
        'a plan not authenticated or with no `planned` record, "matched N rows, expected 1", '
        '"timed out waiting for a lock after N s", live key without `--live`, '
        "a key/mode contradiction, a Paystack answer from the other mode, "
        "no terminal and no `--yes`, declined, `sandbox reset` while the sandbox is in use, "
        "a forged audit checkpoint",
        "look",
    ),
    (
        5,
        "outcome_unknown",
        "outcome unknown: an external side effect whose result could not be determined (a POST to Paystack, "
        "a webhook redelivery or replay with no answer); run the `resume` command it names",
        "page",
    ),
    (
        70,
        "internal_error",
        "internal error in proaudit (rerun with `--debug` and report it)",
        "page",
    ),
    (
        130,
        "interrupted",
        "interrupted (Ctrl-C)",
        "—",
    ),
)

_MUTATION = """\
The mutation protocol: how proaudit changes the billing database

No command writes SQL by hand. Every change goes one way:

  1. Plan     The command reads the rows (SELECT ... FOR UPDATE NOWAIT, lock_timeout below
              statement_timeout) and builds row changes: table, key, guards (the values the row
              must still have, e.g. status = 'pending'), new values, the expected row count.
  2. Show     Each row as before -> after; money in kobo and naira; --show-sql prints the SQL.
  3. Dry-run  --dry-run stops here: rolled back, exit 0, an audit record of outcome `planned`.
  4. Confirm  A prompt on the terminal; --yes for automation. No terminal and no --yes: refused
              (exit 4). Bulk changes ask for the count. A live key (sk_live_) needs --live too.
  5. Apply    UPDATE ... WHERE key AND guards; any other row count rolls back (exit 4). The audit
              record (before, after, actor, command, incident, outcome) commits in the same
              transaction as the change.

Saved plans: --plan-out plan.json writes the reviewed plan (HMAC-signed); `proaudit apply
plan.json` applies exactly that plan later, refused if a guarded row changed since.
Money movements (refunds, dunning charges) are intents first: a row in ops_intents before any
call to Paystack, so a crash or a timeout never pays or refunds twice (outcome unknown: exit 5,
then the command's `resume`).
Incidents: `proaudit incident open` makes an incident current; every audit record is tagged
with it (--incident ID > PROAUDIT_INCIDENT > the current incident) and `incident report` builds
the post-incident timeline from those records.
"""

_CONFIG_HEAD = """\
Configuration

Precedence: command-line flag > environment variable > config file ([profiles.NAME] over the
top level) > default. The file is ~/.config/proaudit/config.toml (or --config PATH); a key there
is the environment variable's name in lower case. With nothing configured, every command runs
against the embedded sandbox. The file is refused (exit 2) when group- or world-writable, or
readable by others while it holds a secret. `proaudit config show` shows every value and where
it came from (secrets masked); `proaudit config check` finds the runbook's classic faults.
The commented example: config.example.toml.

Settings (environment variable, default):
"""


def exit_codes_page() -> str:
    lines = ["Exit codes", "", "code  meaning (what cron should do) [--json status]"]
    for code, status, meaning, cron in EXIT_CODES:
        lines.append(f"{code:>4}  {meaning}" + (f" (cron: {cron})" if cron != "—" else "") + f" [{status}]")
    lines += [
        "",
        "Errors are one line on stderr (what failed, and what to do next); data goes to stdout.",
        "With --json every command prints one envelope, on success and on failure:",
        '{"version": 1, "command": ..., "status": ..., "exit_code": N, "data": ..., "errors": [...]}',
    ]
    return "\n".join(lines) + "\n"


def configuration_page() -> str:
    from proaudit_ops.config import SECRET_FIELDS, Settings

    lines = [_CONFIG_HEAD.rstrip("\n")]
    for name, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = "(secret)" if name in SECRET_FIELDS else ("unset" if default in (None, {}, []) else repr(default))
        lines.append(f"  {name.upper():<40} {shown}")
    return "\n".join(lines) + "\n"


TOPICS: dict[str, Callable[[], str]] = {
    "exit-codes": exit_codes_page,
    "configuration": configuration_page,
    "mutation-protocol": lambda: _MUTATION,
}
_ALIASES = {"exit": "exit-codes", "codes": "exit-codes", "config": "configuration", "mutation": "mutation-protocol"}


@app.command()
def help_(
    ctx: typer.Context,
    topic: Annotated[
        str | None, typer.Argument(help="exit-codes, configuration or mutation-protocol.", metavar="TOPIC")
    ] = None,
) -> None:
    """Help topics: exit-codes, configuration, mutation-protocol (no topic: the list).

    \b
    Examples:
      proaudit help exit-codes
      proaudit help configuration | less
      proaudit help mutation-protocol
    """
    from proaudit_ops.cli.runner import run_plain

    def body() -> tuple[str, int]:
        from proaudit_ops.errors import UsageError

        if topic is None:
            return "Help topics:\n" + "".join(f"  proaudit help {name}\n" for name in TOPICS), 0
        name = _ALIASES.get(topic.strip().lower(), topic.strip().lower())
        if name not in TOPICS:
            raise UsageError(f"no help topic {topic[:40]!r}", hint="one of: " + ", ".join(TOPICS))
        return TOPICS[name](), 0

    def show(text: str) -> None:
        import sys

        sys.stdout.write(text)

    run_plain(ctx, body, show)
