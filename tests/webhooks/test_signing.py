"""verify-signature agrees with an independent HMAC-SHA512 and explains each failure kind."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proaudit_ops.core.webhooks.body import MAX_BODY_BYTES, parse_event
from proaudit_ops.core.webhooks.signing import SignatureVerdict, check_signature, sign
from proaudit_ops.errors import UsageError

KEY = "sk_test_0123456789abcdef0123456789abcdef"
LIVE_KEY = "sk_live_FAKE0123456789"


def independent(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def event(domain: str = "test") -> bytes:
    # Paystack's own spacing: not what json.dumps produces by default.
    return (
        '{"event":"charge.success","data":{"id":4099260516,"domain":"' + domain + '","status":"success",'
        '"reference":"re4lyvq3s3","amount":40333,"currency":"NGN"}}'
    ).encode()


json_objects = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
    max_size=6,
)


@settings(max_examples=200)
@given(payload=json_objects, key=st.text(min_size=1, max_size=60).filter(lambda k: k == k.strip()))
def test_agrees_with_independent_hmac(payload: dict[str, object], key: str) -> None:
    body = json.dumps({"event": "charge.success", "data": payload}).encode()
    expected = independent(body, key)
    assert sign(body, key).signature == expected
    assert check_signature(body, expected, key).verdict is SignatureVerdict.VALID
    assert check_signature(body, expected.upper(), key).verdict is SignatureVerdict.VALID
    flipped = ("0" if expected[0] != "0" else "1") + expected[1:]
    assert check_signature(body, flipped, key).verdict is not SignatureVerdict.VALID


def test_valid_exits_zero_invalid_exits_one() -> None:
    body = event()
    good = check_signature(body, independent(body, KEY), KEY)
    assert good.exit_code == 0
    bad = check_signature(body, independent(body, "sk_test_other"), KEY)
    assert bad.verdict is SignatureVerdict.WRONG_KEY
    assert bad.exit_code == 1


@pytest.mark.parametrize("header", ["test", "abc123", "g" * 128, "a" * 127, "a" * 129, ""])
def test_malformed_header(header: str) -> None:
    result = check_signature(event(), header, KEY)
    assert result.verdict is SignatureVerdict.MALFORMED_HEADER
    assert "128 hex" in result.explanation


def test_key_with_whitespace_is_named() -> None:
    body = event()
    result = check_signature(body, independent(body, KEY), KEY + "\n")
    assert result.verdict is SignatureVerdict.KEY_WHITESPACE
    assert "whitespace" in (result.next_step or "")


@pytest.mark.parametrize(
    "reencode",
    [
        lambda e: json.dumps(e),  # Python's default spacing
        lambda e: json.dumps(e, indent=2),
        lambda e: json.dumps(e, sort_keys=True, separators=(",", ":")),
    ],
)
def test_reserialised_body_is_named(reencode: object) -> None:
    original = event()
    parsed = json.loads(original)
    reserialised = reencode(parsed).encode()  # type: ignore[operator]
    assert reserialised != original
    # The sender signed the re-serialised bytes; we check the original raw body.
    result = check_signature(original, independent(reserialised, KEY), KEY)
    assert result.verdict is SignatureVerdict.RESERIALISED


def test_live_event_with_test_key_is_named() -> None:
    body = event(domain="live")
    result = check_signature(body, independent(body, LIVE_KEY), KEY)
    assert result.verdict is SignatureVerdict.DOMAIN_MISMATCH
    assert "sk_live_" in (result.next_step or "")


def test_bad_bodies_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_event(b"not json at all")
    with pytest.raises(UsageError, match="not an object"):
        parse_event(b"[1, 2]")
    with pytest.raises(UsageError, match="1 MiB"):
        parse_event(b"{" + b" " * MAX_BODY_BYTES + b"}")
