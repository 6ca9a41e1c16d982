"""`webhooks test`: a signed event must be accepted AND a wrongly signed one rejected."""

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
    from proaudit_ops.runtime import Runtime

REJECTED = frozenset({400, 401, 403})


@dataclass(frozen=True)
class EndpointTest:
    url: str
    signed: Delivery
    wrongly_signed: Delivery
    unsigned: Delivery

    @property
    def accepts_signed(self) -> bool:
        return self.signed.ok

    @property
    def rejects_bad(self) -> bool:
        return self.wrongly_signed.status_code in REJECTED and self.unsigned.status_code in REJECTED

    @property
    def passed(self) -> bool:
        return self.accepts_signed and self.rejects_bad

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.passed else ExitCode.FINDING


def probe_endpoint(runtime: Runtime, url: str | None = None) -> EndpointTest:
    client, target = runtime.app_endpoint(url)
    domain = "live" if runtime.settings.is_live_key else "test"
    probe_id = uuid.uuid4().hex[:16]
    # A reference lets the app deduplicate the probe like any event if it is ever redelivered.
    event = {
        "event": "proaudit.test",
        "data": {
            "id": probe_id,
            "reference": f"proaudit-test-{probe_id}",
            "domain": domain,
            "sent_at": iso(utcnow()),
        },
    }
    body = canonical_bytes(event)
    signed = deliver(client, target, body, compute_signature(body, runtime.secret_key()))
    if signed.status_code is None:
        raise EndpointUnavailable(
            f"the webhook endpoint did not answer: {signed.describe()}",
            hint="check the app and PROAUDIT_APP_BASE_URL",
        )
    wrong = deliver(client, target, body, "0" * 128)
    unsigned = deliver(client, target, body, None)
    return EndpointTest(url=target, signed=signed, wrongly_signed=wrong, unsigned=unsigned)
