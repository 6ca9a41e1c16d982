"""Typed views of Paystack payloads, tolerant of what the API really sends.

Unknown fields are ignored; nulls are accepted almost everywhere; amounts may arrive as digit
strings and become int subunits (never float); timestamps become timezone-aware UTC datetimes
(None for null, "" or "null"); `paid_at`/`paidAt` and `created_at`/`createdAt` are merged;
`card_type` loses its trailing spaces; refunds normalise `transaction` (an object on POST /refund,
an int id on GET /refund) into `transaction_id` and `transaction_reference`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from proaudit_ops.money import to_subunits
from proaudit_ops.timeutil import as_utc, parse_iso

_NULLISH = (None, "", "null")


def _is_nullish(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "null"))


def _amount(value: object) -> int:
    return to_subunits(value)


def _opt_amount(value: object) -> int | None:
    return None if _is_nullish(value) else to_subunits(value)


def _opt_int(value: object) -> object:
    if _is_nullish(value):
        return None
    if isinstance(value, str):
        return value.strip()
    return value


def _opt_str(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def _opt_stripped_str(value: object) -> object:
    value = _opt_str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def _timestamp(value: object) -> datetime | None:
    if _is_nullish(value):
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return parse_iso(value.strip())
    raise ValueError(f"not a timestamp: {value!r}")


def _flag(value: object) -> bool:
    if _is_nullish(value):
        return False
    return _opt_flag(value) is True


def _opt_flag(value: object) -> bool | None:
    if _is_nullish(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(f"not a boolean: {value!r}")


def _coalesce(data: dict[str, Any], target: str, *names: str) -> None:
    """Put the first non-null value among `names` under `target`."""
    for name in names:
        value = data.get(name)
        if not _is_nullish(value):
            data[target] = value
            return
    data[target] = None


Amount = Annotated[int, BeforeValidator(_amount)]
OptAmount = Annotated[int | None, BeforeValidator(_opt_amount)]
OptInt = Annotated[int | None, BeforeValidator(_opt_int)]
Str = Annotated[str, BeforeValidator(_opt_str)]
OptStr = Annotated[str | None, BeforeValidator(_opt_str)]
OptStrippedStr = Annotated[str | None, BeforeValidator(_opt_stripped_str)]
Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
Flag = Annotated[bool, BeforeValidator(_flag)]
OptFlag = Annotated[bool | None, BeforeValidator(_opt_flag)]


class PaystackModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Customer(PaystackModel):
    id: OptInt = None
    email: OptStr = None
    customer_code: OptStr = None
    first_name: OptStr = None
    last_name: OptStr = None


class Authorization(PaystackModel):
    authorization_code: OptStr = None
    reusable: Flag = False
    last4: OptStr = None
    exp_month: OptStr = None
    exp_year: OptStr = None
    card_type: OptStrippedStr = None
    bank: OptStr = None
    channel: OptStr = None
    signature: OptStr = None
    brand: OptStr = None
    bin: OptStr = None
    country_code: OptStr = None


def _nested_or_none(value: object) -> object:
    """`{}` (abandoned transactions) and null become None; a bare customer id becomes {"id": id}."""
    if _is_nullish(value) or value == {}:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return {"id": value}
    return value


class Transaction(PaystackModel):
    """A transaction as verify, fetch, list and charge_authorization return it.

    `paused` is True for a charge_authorization that needs the customer's 2FA approval: the charge
    has not happened; `authorization_url` is where the customer approves it (reference section 4).
    """

    id: OptInt = None
    domain: OptStr = None
    status: Str
    reference: Str
    amount: Amount
    requested_amount: OptAmount = None
    currency: Str
    gateway_response: OptStr = None
    message: OptStr = None
    channel: OptStr = None
    paid_at: Timestamp = None
    created_at: Timestamp = None
    transaction_date: Timestamp = None
    fees: OptAmount = None
    customer: Annotated[Customer | None, BeforeValidator(_nested_or_none)] = None
    authorization: Annotated[Authorization | None, BeforeValidator(_nested_or_none)] = None
    metadata: Any = None
    paused: Flag = False
    authorization_url: OptStr = None

    @model_validator(mode="before")
    @classmethod
    def _merge_variants(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            _coalesce(data, "paid_at", "paid_at", "paidAt")
            _coalesce(data, "created_at", "created_at", "createdAt")
        return data


class Refund(PaystackModel):
    id: int
    status: Str
    amount: Amount
    currency: OptStr = None
    transaction_id: OptInt = None
    transaction_reference: OptStr = None
    transaction_amount: OptAmount = None
    domain: OptStr = None
    merchant_note: OptStr = None
    customer_note: OptStr = None
    refunded_by: OptStr = None
    created_at: Timestamp = None
    refunded_at: Timestamp = None
    expected_at: Timestamp = None
    deducted_amount: OptAmount = None
    fully_deducted: OptFlag = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        _coalesce(data, "created_at", "created_at", "createdAt")
        transaction = data.get("transaction")
        reference = data.get("transaction_reference")
        tx_id = data.get("transaction_id")
        tx_amount = data.get("transaction_amount")
        if isinstance(transaction, dict):
            tx_id = transaction.get("id") if _is_nullish(tx_id) else tx_id
            if _is_nullish(reference):
                reference = transaction.get("reference")
            if _is_nullish(tx_amount):
                tx_amount = transaction.get("amount")
        elif not _is_nullish(transaction) and _is_nullish(tx_id):
            tx_id = transaction
        data["transaction_id"] = tx_id
        data["transaction_reference"] = reference
        data["transaction_amount"] = tx_amount
        return data


class InitializedTransaction(PaystackModel):
    authorization_url: str
    access_code: str
    reference: str


class TransactionPage(PaystackModel):
    """One page of GET /transaction.

    `next_cursor` is None at the end (null, "", "null" or absent in Paystack's meta).
    """

    items: list[Transaction] = Field(default_factory=list)
    next_cursor: str | None = None
    page: int | None = None
    page_count: int | None = None
    total: int | None = None
    per_page: int | None = None


def cursor_or_none(value: object) -> str | None:
    """Paystack's cursors: null, "", "null" (the string) and absent all mean "no more"."""
    if value is None or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return None if text in _NULLISH else text


def meta_int(value: object) -> int | None:
    """meta.perPage/page/pageCount/total arrive as int or as digit strings."""
    if isinstance(value, bool) or _is_nullish(value):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
