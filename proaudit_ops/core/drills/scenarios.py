"""The drills: what the operator is told, which commands detect, fix and verify, and what is unsafe.

A drill is scored from the `drill.step` audit records written while it is active (session.py):
each names the command (`payments verify`), its parameters and its exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Drill:
    name: str
    title: str
    briefing: str
    detect: frozenset[str]  # any of these commands counts as the incident detected
    fix: frozenset[str]  # these commands change something when run with --yes (and --fix where they have it)
    verify: frozenset[str]  # a read-only run of one of these after a fix verifies it
    required: tuple[str, ...] = ()  # commands a complete response must include (e.g. the failover dry run)
    before_fix: tuple[str, ...] = ()  # commands a complete response runs before its first fix
    next_steps: tuple[str, ...] = ()


DRILLS: dict[str, Drill] = {
    d.name: d
    for d in (
        Drill(
            name="webhook-outage",
            title="Webhook outage: payments stuck, customers paid but not entitled",
            briefing=(
                "The webhook endpoint was down for an hour. Customers say they paid and cannot use the product. "
                "Find the stuck payments, settle the ones Paystack confirms, and verify. "
                "Do not touch a payment whose amount does not match."
            ),
            detect=frozenset({"monitor check", "payments stuck", "payments verify", "webhooks gaps", "logs search"}),
            fix=frozenset({"payments stuck", "payments verify", "webhooks gaps", "webhooks replay"}),
            verify=frozenset({"payments stuck", "payments verify", "monitor check", "payments status"}),
            next_steps=(
                "proaudit payments stuck --verify",
                "proaudit payments stuck --fix --dry-run",
                "proaudit payments stuck --fix --yes",
                "proaudit payments stuck",
            ),
        ),
        Drill(
            name="double-refund",
            title="Two operators about to refund the same payment",
            briefing=(
                "Support filed two tickets for one customer: refund PSK-ELIGIBLE-0001 (downgrade to core). "
                "Bob took one ticket, you took the other. Refund it exactly once and verify."
            ),
            detect=frozenset({"refunds check", "refunds status", "refunds list", "payments show"}),
            fix=frozenset({"refunds issue", "refunds resume"}),
            verify=frozenset({"refunds status", "refunds list", "refunds check", "payments show"}),
            next_steps=(
                "proaudit refunds check PSK-ELIGIBLE-0001",
                'proaudit refunds issue PSK-ELIGIBLE-0001 --reason "downgrade to core" --dry-run',
                'proaudit refunds issue PSK-ELIGIBLE-0001 --reason "downgrade to core" --yes',
                "proaudit refunds status PSK-ELIGIBLE-0001",
            ),
        ),
        Drill(
            name="db-failover",
            title="Database failover: the primary is down",
            briefing=(
                "PagerDuty: the billing database primary stopped answering (connection refused). "
                "Assess the scope, rehearse the failover to the replica with a dry run, and check health again. "
                "(Simulated: the sandbox has no replica; the dry run is refused and that is expected.)"
            ),
            detect=frozenset({"recovery health"}),
            fix=frozenset({"recovery failover", "recovery maintenance on"}),
            verify=frozenset({"recovery health"}),
            required=("recovery health", "recovery failover --dry-run"),
            next_steps=(
                "proaudit recovery health",
                "proaudit recovery failover --replica postgresql://billing@127.0.0.1:1/billing --dry-run",
                "proaudit recovery health",
            ),
        ),
        Drill(
            name="dunning-storm",
            title="Dunning storm: renewals failed in a Paystack 5xx spell, all due at once",
            briefing=(
                "The renewal run hit a Paystack 5xx spell: many subscriptions are past due and their dunning "
                "records are all due now. Check Paystack is back, see what a retry would charge, retry the due "
                "records in one bounded run, and verify. Do not charge a card Paystack said not to retry."
            ),
            detect=frozenset(
                {
                    "monitor check",
                    "payments status",
                    "dunning list",
                    "dunning preview",
                    "dunning status",
                    "dunning failures",
                    "recovery health",
                }
            ),
            fix=frozenset({"dunning retry-all", "dunning retry"}),
            verify=frozenset(
                {"dunning list", "dunning status", "dunning preview", "monitor check", "payments status", "reconcile"}
            ),
            before_fix=("recovery health",),
            next_steps=(
                "proaudit dunning list --state active",
                "proaudit recovery health",
                "proaudit dunning preview --days 1",
                "proaudit dunning retry-all --dry-run",
                "proaudit dunning retry-all --yes",
                "proaudit dunning list --state active",
            ),
        ),
    )
}

# Bulk changes: --yes on these without a dry run of the same command first is unsafe.
BULK = frozenset(
    {"payments stuck", "webhooks retry-failed", "webhooks gaps", "subscriptions activate", "dunning retry-all"}
)
# A read-only command that also shows what a bulk change would do (besides its own --dry-run):
# `dunning preview` lists what the schedule charges now and the money at stake, and changes nothing.
REHEARSALS: dict[str, frozenset[str]] = {"dunning retry-all": frozenset({"dunning preview"})}
