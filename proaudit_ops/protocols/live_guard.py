"""The live guard, shared by the change guard and the approval gate.

A live key (sk_live_) needs --live. A key whose mode contradicts the configured mode (sk_live_
with PAYSTACK_SANDBOX_MODE=true, sk_test_ with PAYSTACK_SANDBOX_MODE=false) refuses every change,
with or without --live: one of the two is wrong, and we cannot tell which. No key configured is
not a contradiction (the sandbox).
"""

from __future__ import annotations

LIVE_KEY_REFUSAL = "a live Paystack key (sk_live_) is configured: add --live to change production data"
MODE_CONFLICT_HINT = (
    "make PAYSTACK_SECRET_KEY and PAYSTACK_SANDBOX_MODE agree (proaudit config check shows both), then rerun"
)


def mode_conflict(secret_key: str | None, sandbox_mode: bool | None) -> str | None:
    """The refusal message when the key's mode and the configured mode disagree, else None."""
    if not secret_key or sandbox_mode is None:
        return None
    key = secret_key.strip()
    if key.startswith("sk_live_") and sandbox_mode:
        return (
            "PAYSTACK_SECRET_KEY is a live key (sk_live_) but PAYSTACK_SANDBOX_MODE=true: "
            "refusing every change until they agree"
        )
    if key.startswith("sk_test_") and not sandbox_mode:
        return (
            "PAYSTACK_SECRET_KEY is a test key (sk_test_) but PAYSTACK_SANDBOX_MODE=false: "
            "refusing every change until they agree"
        )
    return None
