"""`webhooks sign` and `webhooks verify-signature`: offline, and explaining why a check fails."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from proaudit_ops.core.webhooks.body import parse_event
from proaudit_ops.errors import ExitCode
from proaudit_ops.paystack.signatures import compute_signature, verify_signature

_HEX_RE = re.compile(r"[0-9a-fA-F]*")  # used with fullmatch: `$` accepts a trailing newline


class SignatureVerdict(StrEnum):
    VALID = "valid"
    MALFORMED_HEADER = "malformed_header"  # not 128 hex characters
    KEY_WHITESPACE = "key_whitespace"  # valid once the configured key is stripped
    RESERIALISED = "reserialised"  # signed over the same JSON with other bytes
    DOMAIN_MISMATCH = "domain_mismatch"  # a live event checked with a test key, or the reverse
    WRONG_KEY = "wrong_key"


@dataclass(frozen=True)
class SignResult:
    signature: str
    header: str
    bytes_signed: int
    event: str | None


@dataclass(frozen=True)
class SignatureCheck:
    verdict: SignatureVerdict
    explanation: str
    next_step: str | None
    event: str | None
    domain: str | None
    key_mode: str | None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.verdict is SignatureVerdict.VALID else ExitCode.FINDING


def key_mode(key: str) -> str | None:
    stripped = key.strip()
    for mode in ("live", "test"):
        if stripped.startswith(f"sk_{mode}_"):
            return mode
    return None


def sign(body: bytes, secret_key: str) -> SignResult:
    event = parse_event(body)
    signature = compute_signature(body, secret_key)
    return SignResult(
        signature=signature,
        header=f"x-paystack-signature: {signature}",
        bytes_signed=len(body),
        event=_name(event),
    )


def _name(event: dict[str, object]) -> str | None:
    name = event.get("event")
    return name if isinstance(name, str) else None


def _reserialisations(event: object) -> list[bytes]:
    """The usual ways a framework re-encodes a parsed body (JSON.stringify, json.dumps, ...)."""
    forms = []
    for sort_keys in (False, True):
        for separators in ((",", ":"), (", ", ": ")):
            for ensure_ascii in (False, True):
                forms.append(json.dumps(event, sort_keys=sort_keys, separators=separators, ensure_ascii=ensure_ascii))
        forms.append(json.dumps(event, sort_keys=sort_keys, indent=2))
    return [f.encode("utf-8") for f in dict.fromkeys(forms)]


def check_signature(body: bytes, signature: str, secret_key: str) -> SignatureCheck:
    event = parse_event(body)
    data = event.get("data")
    domain = data.get("domain") if isinstance(data, dict) and isinstance(data.get("domain"), str) else None
    mode = key_mode(secret_key)
    common = {"event": _name(event), "domain": domain, "key_mode": mode}
    header = signature.strip()
    if len(header) != 128 or not _HEX_RE.fullmatch(header):
        return SignatureCheck(
            SignatureVerdict.MALFORMED_HEADER,
            f"the signature is {len(header)} characters{'' if _HEX_RE.fullmatch(header) else ', not all hex'}; "
            "x-paystack-signature is 128 hex characters (HMAC-SHA512)",
            "copy the x-paystack-signature header value exactly as received",
            **common,
        )
    if verify_signature(body, header, secret_key):
        return SignatureCheck(SignatureVerdict.VALID, "signed with the configured secret key", None, **common)
    if secret_key != secret_key.strip() and verify_signature(body, header, secret_key.strip()):
        return SignatureCheck(
            SignatureVerdict.KEY_WHITESPACE,
            "the configured key has whitespace around it; without it the signature is valid",
            "remove the whitespace (a trailing newline?) from PAYSTACK_SECRET_KEY / PAYSTACK_WEBHOOK_SECRET",
            **common,
        )
    for form in _reserialisations(event):
        if form != body and verify_signature(form, header, secret_key.strip()):
            return SignatureCheck(
                SignatureVerdict.RESERIALISED,
                "the signature matches the same JSON with different bytes: the body was re-serialised",
                "verify the raw request body before any JSON parsing middleware touches it",
                **common,
            )
    if domain in ("live", "test") and mode in ("live", "test") and domain != mode:
        return SignatureCheck(
            SignatureVerdict.DOMAIN_MISMATCH,
            f"a {domain} event checked with a {mode} key (sk_{mode}_): Paystack signs with the key of the event's mode",
            f"use the sk_{domain}_ secret key to verify {domain} events",
            **common,
        )
    return SignatureCheck(
        SignatureVerdict.WRONG_KEY,
        "the signature does not match: the event was signed with another key",
        "Paystack signs with the secret key of the mode that sent the event; PAYSTACK_WEBHOOK_SECRET must equal it",
        **common,
    )
