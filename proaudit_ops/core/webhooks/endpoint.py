"""`webhooks test`: a signed event must be accepted AND a wrongly signed one rejected.

With a live key the probe lands in the production app's inbox: that is a change, so it goes
through the approval gate (--live, then --yes / --dry-run / a prompt; every stop audited) and the
sending is audited too. With a test key (or the sandbox) it is sent without asking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proaudit_ops.core.webhooks.body import canonical_bytes
from proaudit_ops.core.webhooks.delivery import Delivery, deliver
from proaudit_ops.errors import EndpointUnavailable, ExitCode
from proaudit_ops.paystack.signatures import compute_signature
from proaudit_ops.timeutil import iso, utcnow

if TYPE_CHECKING:
    from proaudit_ops.protocols.approval import Confirm
    from proaudit_ops.protocols.guard import ApplyOptions
    from proaudit_ops.runtime import Runtime

REJECTED = frozenset({400, 401, 403})
TEST_ACTION = "webhooks.test"


@dataclass(frozen=True)
class EndpointTest:
    url: str
    signed: Delivery | None  # None: nothing was sent (dry run or not approved)
    wrongly_signed: Delivery | None
    unsigned: Delivery | None
    outcome: str = "sent"  # sent | planned | aborted
    diagnosis: str = ""  # what the answers mean, in one line

    @property
    def accepts_signed(self) -> bool:
        return self.signed is not None and self.signed.ok

    @property
    def rejects_bad(self) -> bool:
        return all(d is not None and d.status_code in REJECTED for d in (self.wrongly_signed, self.unsigned))

    @property
    def passed(self) -> bool:
        return self.accepts_signed and self.rejects_bad

    @property
    def exit_code(self) -> ExitCode:
        if self.outcome == "aborted":
            return ExitCode.REFUSED
        if self.outcome == "planned":
            return ExitCode.OK
        return ExitCode.OK if self.passed else ExitCode.FINDING


def diagnose(signed: Delivery, wrong: Delivery, unsigned: Delivery) -> str:
    """Blame what the status codes point at: a 5xx is the app failing, a 401/403 the secret."""
    code = signed.status_code
    if code is None or not signed.ok:
        if code is not None and code >= 500:
            return (
                f"the endpoint answered HTTP {code} to a correctly signed event: the app is failing, not the secret "
                "(see the app's logs)"
            )
        if code in REJECTED:
            return (
                f"the endpoint rejected a correctly signed event (HTTP {code}): "
                "is the app's secret the Paystack secret key?"
            )
        if code in (404, 405):
            return f"the endpoint answered HTTP {code}: is the URL (PROAUDIT_WEBHOOK_PATH, --url) right?"
        return f"the endpoint answered HTTP {code} to a correctly signed event, not 2xx"
    for forged in (wrong, unsigned):
        forged_code = forged.status_code
        if forged_code in REJECTED:
            continue
        if forged_code is not None and 200 <= forged_code < 300:
            return "a forged event was accepted: the endpoint does not check signatures"
        if forged_code is not None and forged_code >= 500:
            return (
                f"a forged event got HTTP {forged_code}, not a rejection: the app fails before (or instead of) "
                "checking the signature"
            )
        return f"a forged event got {forged.describe()}, not 400/401/403"
    return "accepts signed events and rejects forged ones"


def probe_endpoint(
    runtime: Runtime,
    url: str | None = None,
    options: ApplyOptions | None = None,
    confirm: Confirm | None = None,
) -> EndpointTest:
    from proaudit_ops.protocols.approval import Proposal, audit_standalone, gate
    from proaudit_ops.protocols.guard import ApplyOptions

    live = runtime.settings.is_live_key
    # Without options (a library caller) a live key is refused: the gate needs --live to be said.
    options = options or ApplyOptions(live_key=live)
    client, target = runtime.app_endpoint(url)
    domain = "live" if live else "test"
    probe_id = uuid.uuid4().hex[:16]
    reference = f"proaudit-test-{probe_id}"
    # A reference lets the app deduplicate the probe like any event if it is ever redelivered.
    event = {
        "event": "proaudit.test",
        "data": {"id": probe_id, "reference": reference, "domain": domain, "sent_at": iso(utcnow())},
    }
    body = canonical_bytes(event)
    gated = live or options.dry_run
    if gated:
        proposal = Proposal(
            action=TEST_ACTION,
            target=target,
            summary=f"send a test event to {target} (one signed, two forged)",
            count=1,
            details=[{"url": target, "event": "proaudit.test", "reference": reference, "domain": domain}],
        )
        decision = gate(runtime, options, proposal, confirm or (lambda _proposal: False))
        if decision != "go":
            return EndpointTest(target, None, None, None, outcome=decision)
    signed = deliver(client, target, body, compute_signature(body, runtime.secret_key()))
    if signed.status_code is None:
        if gated:  # it may have reached the app before the answer was lost
            audit_standalone(runtime, TEST_ACTION, target, "failed", {"reference": reference, "error": signed.error})
        raise EndpointUnavailable(
            f"the webhook endpoint did not answer: {signed.describe()}",
            hint="check the app and PROAUDIT_APP_BASE_URL",
        )
    wrong = deliver(client, target, body, "0" * 128)
    unsigned = deliver(client, target, body, None)
    result = EndpointTest(target, signed, wrong, unsigned, diagnosis=diagnose(signed, wrong, unsigned))
    if gated:
        audit_standalone(
            runtime,
            TEST_ACTION,
            target,
            "applied",
            {
                "reference": reference,
                "status_codes": [signed.status_code, wrong.status_code, unsigned.status_code],
                "passed": result.passed,
            },
        )
    return result
