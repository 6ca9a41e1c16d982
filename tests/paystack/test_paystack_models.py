"""Models tolerate what Paystack really sends, and never turn money into floats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paystack_fakes import refund, transaction
from pydantic import ValidationError

from proaudit_ops.paystack import Authorization, Customer, Refund, Transaction


@pytest.mark.parametrize("amount", [40333, "40333", " 40333 ", 40333.0])
def test_amount_becomes_int_subunits(amount: object) -> None:
    tx = Transaction.model_validate(transaction(amount=amount, requested_amount=amount))
    assert tx.amount == 40333
    assert type(tx.amount) is int
    assert tx.requested_amount == 40333


@pytest.mark.parametrize("amount", ["403.33", 403.5, "abc", True, None, ""])
def test_amount_that_is_not_subunits_is_rejected(amount: object) -> None:
    with pytest.raises(ValidationError):
        Transaction.model_validate(transaction(amount=amount))


@pytest.mark.parametrize("value", [None, "", "null"])
def test_optional_amounts_accept_nullish(value: object) -> None:
    tx = Transaction.model_validate(transaction(requested_amount=value, fees=value))
    assert tx.requested_amount is None
    assert tx.fees is None


@given(st.integers(min_value=0, max_value=10**15), st.booleans())
def test_amount_round_trips_as_int_or_digit_string(value: int, as_text: bool) -> None:
    raw: Any = str(value) if as_text else value
    assert Transaction.model_validate(transaction(amount=raw)).amount == value


def test_paid_at_from_camel_case_when_snake_is_missing_or_null() -> None:
    data = transaction(paid_at=None, paidAt="2024-08-22T10:15:02.000+01:00")
    data.pop("created_at")
    tx = Transaction.model_validate(data)
    assert tx.paid_at == datetime(2024, 8, 22, 9, 15, 2, tzinfo=UTC)
    assert tx.created_at == datetime(2024, 8, 22, 9, 14, 24, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "null"])
def test_nullish_timestamps_are_none(value: object) -> None:
    tx = Transaction.model_validate(transaction(paid_at=value, paidAt=value, created_at=value, createdAt=value))
    assert tx.paid_at is None
    assert tx.created_at is None


def test_space_separated_timestamps_are_utc() -> None:
    tx = Transaction.model_validate(transaction(transaction_date="2024-08-22 11:01:23"))
    assert tx.transaction_date == datetime(2024, 8, 22, 11, 1, 23, tzinfo=UTC)


def test_unknown_fields_are_ignored_everywhere() -> None:
    data = transaction(brand_new_field={"x": 1}, source={"type": "api"})
    data["customer"]["loyalty_tier"] = "gold"
    data["authorization"]["wallet"] = "apple_pay"
    tx = Transaction.model_validate(data)
    assert not hasattr(tx, "brand_new_field")
    assert tx.customer == Customer(
        id=181873746,
        email="demo@test.com",
        customer_code="CUS_1rkzaqsv4rrhqo6",
        first_name=None,
        last_name=None,
    )


@pytest.mark.parametrize(
    "metadata",
    ["", 0, None, {"invoice": "INV-1", "custom_fields": []}, '{"invoice":"INV-1"}', [1, 2]],
)
def test_metadata_is_kept_as_sent(metadata: object) -> None:
    assert Transaction.model_validate(transaction(metadata=metadata)).metadata == metadata


def test_card_details_are_normalised() -> None:
    auth = Authorization.model_validate(
        {"card_type": "visa ", "exp_month": 12, "exp_year": 2030, "last4": "4081", "reusable": None}
    )
    assert auth.card_type == "visa"
    assert (auth.exp_month, auth.exp_year) == ("12", "2030")
    assert auth.reusable is False


@pytest.mark.parametrize("value", [{}, None])
def test_empty_authorization_and_customer_are_none(value: object) -> None:
    tx = Transaction.model_validate(transaction(authorization=value, customer=value))
    assert tx.authorization is None
    assert tx.customer is None


def test_a_bare_customer_id_becomes_a_customer() -> None:
    tx = Transaction.model_validate(transaction(customer=181873746))
    assert tx.customer is not None
    assert tx.customer.id == 181873746


def test_required_transaction_fields() -> None:
    data = transaction()
    data.pop("reference")
    with pytest.raises(ValidationError, match="reference"):
        Transaction.model_validate(data)


def test_refund_from_get_with_integer_transaction() -> None:
    r = Refund.model_validate(refund(deducted_amount="10000", fully_deducted=1))
    assert (r.transaction_id, r.transaction_reference) == (1004723697, "T685312322670591")
    assert (r.deducted_amount, r.fully_deducted) == (10000, True)
    assert r.refunded_at == datetime(2021, 12, 16, 9, 21, 17, tzinfo=UTC)


def test_refund_from_post_with_transaction_object() -> None:
    data = refund(
        transaction={"id": 1004723697, "reference": "T685312322670591", "amount": "10000"},
        fully_deducted=False,
    )
    data.pop("transaction_reference")
    data.pop("transaction_amount")
    r = Refund.model_validate(data)
    assert (r.transaction_id, r.transaction_reference) == (1004723697, "T685312322670591")
    assert r.transaction_amount == 10000
    assert r.fully_deducted is False


@pytest.mark.parametrize(("raw", "expected"), [(0, False), (1, True), ("true", True), (None, None)])
def test_refund_fully_deducted_variants(raw: object, expected: bool | None) -> None:
    assert Refund.model_validate(refund(fully_deducted=raw)).fully_deducted is expected


def test_refund_fully_deducted_rejects_nonsense() -> None:
    with pytest.raises(ValidationError):
        Refund.model_validate(refund(fully_deducted=7))


def test_refund_id_as_digit_string() -> None:
    assert Refund.model_validate(refund(id="3018284")).id == 3018284
