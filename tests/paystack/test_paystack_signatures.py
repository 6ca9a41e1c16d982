"""Webhook signatures: HMAC-SHA512 of the raw body keyed with the secret key."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proaudit_ops.paystack.signatures import compute_signature, verify_signature

keys = st.text(min_size=1, max_size=80)
bodies = st.binary(max_size=4096)


@given(body=bodies, key=keys)
def test_signature_round_trips_and_matches_an_independent_hmac(body: bytes, key: str) -> None:
    signature = compute_signature(body, key)
    assert signature == hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
    assert len(signature) == 128
    assert signature == signature.lower()
    assert verify_signature(body, signature, key) is True


@given(body=bodies.filter(bool), key=keys, data=st.data())
def test_a_one_bit_change_in_the_body_fails(body: bytes, key: str, data: st.DataObject) -> None:
    signature = compute_signature(body, key)
    bit = data.draw(st.integers(min_value=0, max_value=len(body) * 8 - 1))
    flipped = bytearray(body)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert verify_signature(bytes(flipped), signature, key) is False


@given(body=bodies, key=st.text(st.characters(codec="ascii"), min_size=1), data=st.data())
def test_a_one_bit_change_in_the_key_fails(body: bytes, key: str, data: st.DataObject) -> None:
    signature = compute_signature(body, key)
    raw = bytearray(key.encode())
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(min_value=0, max_value=6))  # stays ASCII
    other = raw.decode("ascii")
    assert other != key
    assert verify_signature(body, signature, other) is False


def test_a_key_that_is_not_valid_text_never_verifies() -> None:
    assert verify_signature(b"{}", "0" * 128, "sk_test_\udcb0") is False


def test_known_vector() -> None:
    body = b'{"event":"charge.success","data":{"reference":"re4lyvq3s3","amount":40333}}'
    key = "sk_test_1234567890abcdef"
    expected = hmac.new(key.encode(), body, hashlib.sha512).hexdigest()
    assert compute_signature(body, key) == expected
    assert verify_signature(body, expected, key)


def test_header_whitespace_and_upper_case_hex_are_tolerated() -> None:
    body, key = b'{"event":"charge.success"}', "sk_test_x"
    signature = compute_signature(body, key)
    assert verify_signature(body, f"  {signature.upper()}\r\n", key)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha512=" + "0" * 128,
        "0" * 127,
        "0" * 129,
        "g" * 128,
        "t=1724318098,v1=abc:" + "0" * 128,
    ],
)
def test_headers_that_are_not_128_hex_chars_are_false(header: str) -> None:
    assert verify_signature(b"{}", header, "sk_test_x") is False


def test_a_truncated_valid_signature_is_false() -> None:
    signature = compute_signature(b"{}", "sk_test_x")
    assert verify_signature(b"{}", signature[:-2], "sk_test_x") is False


def test_missing_header_or_key_is_false() -> None:
    signature = compute_signature(b"{}", "sk_test_x")
    assert verify_signature(b"{}", None, "sk_test_x") is False  # type: ignore[arg-type]
    assert verify_signature(b"{}", signature, "") is False


def test_a_decoded_body_is_refused() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        compute_signature("{}", "sk_test_x")  # type: ignore[arg-type]


def test_signatures_module_stays_light() -> None:
    """Offline commands import the verifier without httpx, pydantic or tenacity."""
    code = (
        "import sys\n"
        "from proaudit_ops.paystack.signatures import verify_signature\n"
        "import proaudit_ops.paystack\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'tenacity') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_exports_resolve_lazily() -> None:
    import proaudit_ops.paystack as paystack

    assert paystack.verify_signature is verify_signature
    assert paystack.PaystackClient.__name__ == "PaystackClient"
    with pytest.raises(AttributeError):
        _ = paystack.NoSuchThing
