"""The runbook's Incident Classification and Escalation Matrix, as data.

Severity levels (response time) and, per severity, the first responder, the 30-minute escalation and
the final escalation; whom to reach for each role comes from the runbook's Contact Information,
overridden per role by `proaudit_incident_contacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from proaudit_ops.errors import UsageError

ESCALATE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class Severity:
    level: str
    name: str
    definition: str
    response_minutes: int
    examples: str
    first_responder: tuple[str, ...]
    escalation: tuple[str, ...]  # after 30 minutes
    final: tuple[str, ...]

    @property
    def response_time(self) -> timedelta:
        return timedelta(minutes=self.response_minutes)


# fmt: off
SEVERITIES: dict[str, Severity] = {
    "P1": Severity("P1", "Critical", "Complete billing system outage", 15,
                   "Paystack integration down, all payments failing",
                   ("On-call Engineer",), ("Engineering Lead", "Product"), ("CTO", "CEO")),
    "P2": Severity("P2", "High", "Major degradation affecting many users", 60,
                   "Webhook processing delayed, subscription activations failing",
                   ("On-call Engineer",), ("Engineering Lead",), ("Product Manager",)),
    "P3": Severity("P3", "Medium", "Limited impact, workaround available", 4 * 60,
                   "Single customer payment issue, invoice generation error",
                   ("Support Engineer",), ("Engineering Team",), ("Engineering Lead",)),
    "P4": Severity("P4", "Low", "Minor issue, no immediate business impact", 24 * 60,
                   "Reporting discrepancy, non-critical feature bug",
                   ("Support Engineer",), ("Engineering Team",), ()),
}
# The runbook's Contact Information: role -> primary contact (backup).
RUNBOOK_CONTACTS: dict[str, str] = {
    "On-call Engineer": "PagerDuty rotation (backup: #engineering-oncall Slack)",
    "Engineering Lead": "Direct page (backup: Email + Slack)",
    "Product Manager": "Slack DM (backup: Email)",
    "Paystack Support": "support@paystack.com (backup: Dashboard chat)",
}
# fmt: on
# The matrix says "Product" where the contact table says "Product Manager".
_ROLE_ALIASES = {"Product": "Product Manager"}
NO_CONTACT = "no contact in the runbook: set proaudit_incident_contacts"


@dataclass(frozen=True)
class Contact:
    role: str
    contact: str


def severity(level: str) -> Severity:
    found = SEVERITIES.get(level.strip().upper())
    if found is None:
        raise UsageError(f"--severity must be one of P1, P2, P3, P4, got {level!r}", hint="e.g. --severity P2")
    return found


def contact_for(role: str, configured: Mapping[str, str]) -> Contact:
    for name in (role, _ROLE_ALIASES.get(role)):
        if name is None:
            continue
        if name in configured:
            return Contact(role, configured[name])
    for name in (role, _ROLE_ALIASES.get(role)):
        if name is not None and name in RUNBOOK_CONTACTS:
            return Contact(role, RUNBOOK_CONTACTS[name])
    return Contact(role, NO_CONTACT)


def contacts(roles: tuple[str, ...], configured: Mapping[str, str]) -> list[Contact]:
    return [contact_for(role, configured) for role in roles]
