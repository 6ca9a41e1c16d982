"""The approval gate for actions that are not row changes (webhook replays, redeliveries).

Same rules as the change guard: a key whose mode contradicts PAYSTACK_SANDBOX_MODE refuses
everything (protocols/live_guard.py); a live key needs --live; --dry-run stops after showing; no
TTY and no --yes is refused; otherwise the operator confirms. Every stop leaves an audit record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import Refused
from proaudit_ops.protocols.guard import NO_TTY_REFUSAL
from proaudit_ops.protocols.live_guard import LIVE_KEY_REFUSAL, MODE_CONFLICT_HINT

if TYPE_CHECKING:
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime


@dataclass(frozen=True)
class Proposal:
    action: str
    target: str
    summary: str
    count: int
    details: list[dict[str, Any]]


Confirm = Callable[[Proposal], bool]


def audit_standalone(runtime: Runtime, action: str, target: str | None, outcome: str, after: Any = None) -> int | None:
    from proaudit_ops.audit import AuditEntry

    engine = None
    with contextlib.suppress(Exception):  # no database: the audit log falls back to its JSONL file
        engine = runtime.engine()
    record = runtime.audit_log().append_standalone(
        engine, AuditEntry(action=action, target=target, outcome=outcome, after=after)
    )
    return record.seq


def gate(runtime: Runtime, options: ApplyOptions, proposal: Proposal, confirm: Confirm) -> str:
    """'go', 'planned' (dry run) or 'aborted'; raises Refused (exit 4) after auditing it."""
    summary = {"summary": proposal.summary, "count": proposal.count}
    if options.mode_conflict is not None:
        audit_standalone(
            runtime,
            proposal.action,
            proposal.target,
            "refused",
            {**summary, "reason": "key mode contradicts PAYSTACK_SANDBOX_MODE", "error": options.mode_conflict},
        )
        raise Refused(options.mode_conflict, hint=MODE_CONFLICT_HINT)
    if options.live_key and not options.live_flag:
        audit_standalone(
            runtime,
            proposal.action,
            proposal.target,
            "refused",
            {**summary, "reason": "live key without --live"},
        )
        raise Refused(LIVE_KEY_REFUSAL, hint="rerun with --live if you mean to act on production")
    if options.dry_run:
        audit_standalone(runtime, proposal.action, proposal.target, "planned", summary)
        return "planned"
    if not options.assume_yes:
        if not options.interactive:
            audit_standalone(
                runtime,
                proposal.action,
                proposal.target,
                "refused",
                {**summary, "reason": "no tty"},
            )
            raise Refused(NO_TTY_REFUSAL)
        try:
            accepted = confirm(proposal)
        except KeyboardInterrupt:
            audit_standalone(runtime, proposal.action, proposal.target, "aborted", summary)
            raise
        if not accepted:
            audit_standalone(runtime, proposal.action, proposal.target, "aborted", summary)
            return "aborted"
    return "go"
