"""money.parse_amount: what operators type for refunds (issue 7 item 6), accepted or refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proaudit_ops.money import MAX_AMOUNT_CHARS, MAX_SUBUNITS, Money, format_amount, parse_amount

ACCEPTED = {
    "150000": 15_000_000,
    "₦150,000.00": 15_000_000,
    "150000 NGN": 15_000_000,
    "NGN 150,000.00": 15_000_000,
    "150,000.00": 15_000_000,
    "ngn150000": 15_000_000,
    " 5,000.5 ": 500_050,
    "0.01": 1,
    "1,000,000": 100_000_000,
}


@pytest.mark.parametrize(("text", "subunits"), ACCEPTED.items())
def test_accepted_forms(text: str, subunits: int) -> None:
    money = parse_amount(text)
    assert money == Money(subunits, "NGN")
    assert type(money.subunits) is int


REFUSED = {
    "-5": "negative",
    "NGN -5": "negative",
    "−5": "negative",  # U+2212 MINUS SIGN
    "₦-150,000.00": "negative",
    "0": "zero",
    "0.00": "zero",
    "NGN 0": "zero",
    "1.234": "more than two decimals",
    "150,000.001": "more than two decimals",
    "USD 5": "is in USD, not NGN",
    "$5": "is in USD, not NGN",
    "5 GHS": "is in GHS, not NGN",
    "1,50,000": "misplaced comma",
    "150,00": "misplaced comma",
    ",150": "misplaced comma",
    "150,000,": "misplaced comma",
    "150\u00a0000": "NO-BREAK SPACE",
    "150\u2009000": "THIN SPACE",
    "NGN\u202f150": "NARROW NO-BREAK SPACE",
    "150\u200b": "ZERO WIDTH SPACE",
    "\t150": "U+0009",
    "150\n": "U+000A",
    "1" * (MAX_AMOUNT_CHARS + 1): "too long",
    "9" * 20: "too large",
    "": "empty",
    "NGN": "no number",
    "NGN 5 NGN": "twice",
    "1e5": "not an amount",
    "５": "not an amount",  # a fullwidth digit
    "5.": "not an amount",
    ".5": "not an amount",
    "+5": "not an amount",
    "150 000": "not an amount",
    "007": "leading zero",
}


@pytest.mark.parametrize(("text", "why"), REFUSED.items())
def test_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match="amount") as caught:
        parse_amount(text)
    assert why in str(caught.value)


def test_the_expected_currency_is_the_one_checked() -> None:
    assert parse_amount("USD 12.50", "USD") == Money(1250, "USD")
    assert parse_amount("12.50", "usd") == Money(1250, "USD")
    with pytest.raises(ValueError, match="is in NGN, not USD"):
        parse_amount("₦12.50", "USD")


def test_not_text_is_refused() -> None:
    with pytest.raises(ValueError, match="must be text"):
        parse_amount(150000)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=MAX_SUBUNITS))
def test_format_then_parse_round_trips_every_amount(subunits: int) -> None:
    shown = format_amount(subunits, "NGN")  # "₦150,000.00"
    parsed = parse_amount(shown)
    assert parsed == Money(subunits, "NGN")
    assert type(parsed.subunits) is int
    units, cents = divmod(subunits, 100)
    assert parse_amount(f"NGN {units}.{cents:02d}").subunits == subunits
    assert parse_amount(f"{units:,}.{cents:02d} NGN").subunits == subunits


@given(st.text(max_size=80))
def test_anything_else_is_a_value_error_or_a_positive_int(text: str) -> None:
    message = ""
    try:
        money = parse_amount(text)
    except ValueError as exc:
        message = str(exc)
    if message:
        assert "amount" in message
    else:
        assert type(money.subunits) is int
        assert 0 < money.subunits <= MAX_SUBUNITS
        assert money.currency == "NGN"
