"""Webhook signatures: `x-paystack-signature` is the hex HMAC-SHA512 of the raw body, keyed with
the secret key of the mode that sent the event (reference/paystack-api.md section 6).

Standard library only: offline commands (`webhooks verify`, `config check`) import this module
without loading httpx or pydantic.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "x-paystack-signature"
_HEX128_RE = re.compile(r"[0-9a-f]{128}")


def compute_signature(body: bytes, secret_key: str) -> str:
    """Lowercase hex HMAC-SHA512 of the raw request bytes, keyed with the secret key."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError("sign the raw request bytes, not a decoded or re-serialised body")
    return hmac.new(secret_key.encode("utf-8"), bytes(body), hashlib.sha512).hexdigest()


def verify_signature(body: bytes, signature: str, secret_key: str) -> bool:
    """True when `signature` (the header value) is the signature of `body` under `secret_key`.

    Tolerates surrounding whitespace and upper-case hex in the header; anything that is not
    128 hex characters, an empty key, or a missing header is simply False. Constant-time compare.
    """
    if not isinstance(signature, str) or not secret_key:
        return False
    candidate = signature.strip().lower()
    if not _HEX128_RE.fullmatch(candidate):
        return False
    try:
        expected = compute_signature(body, secret_key)
    except UnicodeEncodeError:  # a key with lone surrogates (undecodable environment bytes)
        return False
    return hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii"))
