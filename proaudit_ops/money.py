"""Money: integer subunits plus a currency code. Never float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Paystack amounts are always x100 subunits, XOF included (reference/paystack-api.md section 0).
SUBUNITS_PER_UNIT = 100
SYMBOLS = {"NGN": "₦", "USD": "$", "GHS": "₵", "ZAR": "R", "KES": "KSh ", "XOF": "CFA "}
SUBUNIT_NAMES = {"NGN": "kobo", "GHS": "pesewas", "KES": "cents", "ZAR": "cents", "USD": "cents"}
_AMOUNT_RE = re.compile(r"^\s*([A-Za-z]{3})?\s*([0-9][0-9,]*(?:\.[0-9]{1,2})?)\s*$")


@dataclass(frozen=True, order=True)
class Money:
    subunits: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.subunits, bool) or not isinstance(self.subunits, int):
            raise TypeError("Money.subunits must be an int (subunits, never float)")

    def format(self) -> str:
        return format_amount(self.subunits, self.currency)

    def describe(self) -> str:
        """Both forms, as the diff shows them: `15000000 kobo = ₦150,000.00`."""
        return describe_amount(self.subunits, self.currency)


def format_amount(subunits: int, currency: str) -> str:
    sign = "-" if subunits < 0 else ""
    units, cents = divmod(abs(subunits), SUBUNITS_PER_UNIT)
    symbol = SYMBOLS.get(currency.upper(), currency.upper() + " ")
    return f"{sign}{symbol}{units:,}.{cents:02d}"


def describe_amount(subunits: int, currency: str) -> str:
    name = SUBUNIT_NAMES.get(currency.upper(), "subunits")
    return f"{subunits} {name} = {format_amount(subunits, currency)}"


def parse_amount(text: str, default_currency: str = "NGN") -> Money:
    """Parse an operator-typed amount in major units: `150000`, `150,000.50`, `NGN 1500`.

    Raises ValueError on anything else (negative, more than two decimals, letters).
    """
    match = _AMOUNT_RE.match(text)
    if not match:
        raise ValueError(f"not an amount: {text!r} (expected e.g. 1500 or 'NGN 1,500.50')")
    currency = (match.group(1) or default_currency).upper()
    try:
        value = Decimal(match.group(2).replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees digits
        raise ValueError(f"not an amount: {text!r}") from exc
    return Money(int(value * SUBUNITS_PER_UNIT), currency)


def to_subunits(value: object) -> int:
    """Paystack sends amounts as ints or as digit strings; accept both, reject fractions."""
    if isinstance(value, bool):
        raise ValueError("amount is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"not an amount in subunits: {value!r}")
