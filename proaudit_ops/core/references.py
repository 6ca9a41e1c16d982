"""Validation of what operators type: Paystack references."""

from __future__ import annotations

import re

from proaudit_ops.errors import UsageError

# Paystack: "only -, ., = and alphanumeric characters" (reference/paystack-api.md section 4); we
# also accept `_`, which real integrations use. Short strings: 100 chars is generous.
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9\-_.=]{1,100}$")


def validate_reference(reference: str) -> str:
    if not _REFERENCE_RE.match(reference):
        shown = reference if len(reference) <= 40 else reference[:40] + "..."
        raise UsageError(
            f"malformed reference {shown!r}",
            hint="a Paystack reference is 1-100 letters, digits or - _ . =",
        )
    return reference
