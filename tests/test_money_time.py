from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proaudit_ops.money import Money, describe_amount, format_amount, parse_amount, to_subunits
from proaudit_ops.redact import mask_url, redact, redact_argv
from proaudit_ops.timeutil import iso, parse_duration, parse_iso


def test_format_amount() -> None:
    assert format_amount(15000000, "NGN") == "₦150,000.00"
    assert describe_amount(15000000, "NGN") == "15000000 kobo = ₦150,000.00"
    assert format_amount(-5, "USD") == "-$0.05"


@given(st.integers(min_value=1, max_value=10**15))
def test_parse_format_round_trip(subunits: int) -> None:
    units, cents = divmod(subunits, 100)
    assert parse_amount(f"{units:,}.{cents:02d}").subunits == subunits


@pytest.mark.parametrize("bad", ["", "-5", "1.234", "abc", "1e5", "NGN"])
def test_parse_amount_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(bad)


def test_money_refuses_float() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "NGN")  # type: ignore[arg-type]
    assert to_subunits("20000") == 20000
    with pytest.raises(ValueError, match="subunits"):
        to_subunits("200.5")


def test_durations_and_iso() -> None:
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("30d") == timedelta(days=30)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("15 minutes")
    parsed = parse_iso("2024-08-22T09:15:02.000Z")
    assert parsed == datetime(2024, 8, 22, 9, 15, 2, tzinfo=UTC)
    assert parse_iso("null") is None
    assert iso(parsed) == "2024-08-22T09:15:02Z"


def test_redaction() -> None:
    assert mask_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:****@h:5432/db"
    text = redact("key sk_live_abcdef0123 Bearer xyz postgres://a:b@c/d", ["mysecretvalue"])
    assert "abcdef0123" not in text and "xyz" not in text and ":b@" not in text
    assert redact("token=mysecretvalue", ["mysecretvalue"]) == "token=****"
    assert "hunter2" not in redact_argv(["proaudit", "--password", "hunter2"])
