"""The link kind of the intent protocol: a payment link as Paystack's POST /transaction/initialize.

params (stored on the intent, reviewed in the plan): target (dunning record id), reference (the
link reference, derived from subscription + period), organization_id, email, amount, currency,
metadata (what the app's charge.success handler entitles: organization_id, tier, billing_cycle);
after Paystack answered, authorization_url and access_code (saved by `keep` as soon
as the answer arrives: Paystack never hands a checkout URL out again).

`find` is GET /transaction/verify/REFERENCE: an initialized, unpaid link is a transaction Paystack
holds (`abandoned` until paid), so a rerun after a crash or a lost answer never initializes the
same reference twice. Found with its URL saved: adopted (the same link). Found without it (the
answer was lost before anything saved it, so nobody ever saw that URL and nobody can pay it):
recorded as lost, and the caller issues the next reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proaudit_ops.errors import PaystackNotFound
from proaudit_ops.protocols.intents import Effect, Intent, remember

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from proaudit_ops.paystack import PaystackClient
    from proaudit_ops.protocols.guard import ChangeGuard
    from proaudit_ops.protocols.plan import RowChange

TOUCH = ("updated_at",)
OPEN = "open"  # the link exists at Paystack, unpaid
PAID = "paid"  # the customer paid it
LOST = "lost"  # it exists at Paystack but its URL never reached us


def link_reason(reference: str, email: str) -> str:
    """The dunning record's last_failure_reason while a link is open: automatic retries stop (a
    charge while the customer may pay the link could take the money twice)."""
    return f"payment link {reference} sent to {email}: automatic retries stop until it is paid"


class LinkKind:
    name = "link"
    action = "dunning.link"
    command = "dunning"

    def find(self, client: PaystackClient, intent: Intent, claimed: set[str]) -> Effect | None:
        reference = str(intent.params["reference"])
        try:
            tx = client.verify_transaction(reference)
        except PaystackNotFound:
            return None
        if tx.status == "success":
            return Effect(reference, PAID, int(tx.amount), _url_data(intent.params))
        data = _url_data(intent.params)
        return Effect(reference, OPEN if data else LOST, int(tx.amount), data)

    def perform(self, client: PaystackClient, intent: Intent) -> Effect:
        p = intent.params
        init = client.initialize_transaction(
            email=str(p["email"]),
            amount=int(p["amount"]),
            reference=str(p["reference"]),
            currency=str(p["currency"]),
            metadata=dict(p["metadata"]),
        )
        data = {"authorization_url": init.authorization_url, "access_code": init.access_code}
        return Effect(init.reference, OPEN, int(p["amount"]), data)

    def keep(self, intent: Intent, effect: Effect) -> dict[str, Any]:
        return dict(effect.data)  # the URL and access code: Paystack never hands them out again

    def record(self, guard: ChangeGuard, conn: Connection, intent: Intent, effect: Effect) -> list[RowChange]:
        """The dunning record (no automatic retry while the link is open) and the link's own payment
        row (pending: the app's charge.success handler settles and entitles it)."""
        if effect.status == LOST:
            return []  # nothing to send: the rows stay as they are, the caller makes the next link
        remember(conn, intent.op_key, self.keep(intent, effect))
        return link_changes(guard, conn, intent.params)


def _url_data(params: dict[str, Any]) -> dict[str, Any]:
    url = params.get("authorization_url")
    return {"authorization_url": url, "access_code": params.get("access_code")} if url else {}


def link_changes(guard: Any, conn: Connection, p: dict[str, Any]) -> list[RowChange]:
    """The rows a link changes, computed from the rows as they are now (plan and record alike): the
    dunning record (no automatic retry while the link is open) and a pending payment row of its own
    under the link's reference, as the app's checkout records one (the failed payment stays as it
    was), so its charge.success handler settles and entitles it. Already recorded: left alone."""
    import uuid

    from proaudit_ops.core.dunning.kind import TOUCH_NEW_PAYMENT, dunning_change
    from proaudit_ops.db.schema import dunning_records as d
    from proaudit_ops.db.schema import payment_transactions as pt
    from proaudit_ops.protocols.plan import RowChange

    reference = str(p["reference"])
    row = guard.lock_rows(conn, d, d.c.id == str(p["target"]), expect=1)[0]
    values = {"next_retry_at": None, "last_failure_reason": link_reason(reference, str(p["email"]))}
    changes: list[RowChange] = [dunning_change(row, values, TOUCH)]
    if not guard.lock_rows(conn, pt, pt.c.reference == reference):
        changes.append(
            RowChange(
                table=pt.name,
                key={"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"proaudit:payment:{reference}"))},
                guards={"reference": reference},
                new_values={
                    "organization_id": str(p["organization_id"]),
                    "reference": reference,
                    "status": "pending",
                    "amount_kobo": int(p["amount"]),
                    "currency": str(p["currency"]),
                },
                before={},
                label=f"payment {reference} (the link)",
                touch=TOUCH_NEW_PAYMENT,
                insert=True,
            )
        )
    return changes


LINK = LinkKind()
