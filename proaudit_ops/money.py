"""Money: integer subunits plus a currency code. Never float."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Paystack amounts are always x100 subunits, XOF included (reference/paystack-api.md section 0).
SUBUNITS_PER_UNIT = 100
SYMBOLS = {"NGN": "₦", "USD": "$", "GHS": "₵", "ZAR": "R", "KES": "KSh ", "XOF": "CFA "}
SUBUNIT_NAMES = {"NGN": "kobo", "GHS": "pesewas", "KES": "cents", "ZAR": "cents", "USD": "cents"}


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


MAX_AMOUNT_CHARS = 64  # longer than any real amount: refused before any regular expression runs
MAX_SUBUNITS = 10**15  # ₦10 trillion: far above any single payment, far below BIGINT
_CODE_RE = re.compile(r"[A-Za-z]{3}")
_PLAIN_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_GROUPED_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_CURRENCY_BY_SYMBOL = {"₦": "NGN", "$": "USD", "₵": "GHS"}


def parse_amount(text: str, expected_currency: str = "NGN") -> Money:
    """Parse an operator-typed amount in major units into subunits of `expected_currency`.

    Accepted: `150000`, `150,000.00`, `₦150,000.00`, `150000 NGN`, `NGN 150,000.00` (the code in
    either case, one ASCII space or none beside it). Refused, with a ValueError that says why:
    zero, negative, more than two decimals, a currency other than `expected_currency`, commas that
    are not thousands separators, any space other than ASCII (no-break, thin, tabs), other
    characters, more than MAX_AMOUNT_CHARS characters or more than MAX_SUBUNITS. Never float.
    """
    expected = expected_currency.upper()
    if not isinstance(text, str):
        raise ValueError(f"amount must be text, not {type(text).__name__}")
    if len(text) > MAX_AMOUNT_CHARS:
        raise ValueError(f"amount is too long ({len(text)} characters, at most {MAX_AMOUNT_CHARS})")
    body = text.strip(" ")
    if not body:
        raise ValueError("amount is empty (expected e.g. 150000 or 'NGN 150,000.00')")
    for char in body:
        if char != " " and (char.isspace() or unicodedata.category(char) in ("Zs", "Cf", "Cc")):
            raise ValueError(
                f"amount {text!r} contains {unicodedata.name(char, 'a control character')} "
                f"(U+{ord(char):04X}): type plain digits, with an ASCII space at most"
            )
    if body[0] in "-−" or "-" in body or "−" in body:
        raise ValueError(f"amount {text!r} is negative: amounts are positive")
    currency, number = _split_currency(body, text)
    if currency is not None and currency != expected:
        raise ValueError(f"amount {text!r} is in {currency}, not {expected} (the currency expected here)")
    return Money(_subunits(number, text), expected)


def _split_currency(body: str, text: str) -> tuple[str | None, str]:
    """(currency named in the text or None, the number part)."""
    currency: str | None = None
    if body[0] in _CURRENCY_BY_SYMBOL:
        currency, body = _CURRENCY_BY_SYMBOL[body[0]], body[1:]
    elif _CODE_RE.fullmatch(body[:3]):
        currency, body = body[:3].upper(), body[3:]
    if len(body) >= 3 and _CODE_RE.fullmatch(body[-3:]):
        if currency is not None:
            raise ValueError(f"amount {text!r} names a currency twice")
        currency, body = body[-3:].upper(), body[:-3]
    number = body.removeprefix(" ") if body.startswith(" ") and currency is not None else body
    number = number.removesuffix(" ") if number.endswith(" ") and currency is not None else number
    if not number:
        raise ValueError(f"amount {text!r} has no number (expected e.g. 'NGN 150,000.00')")
    return currency, number


def _subunits(number: str, text: str) -> int:
    if "," in number and not _GROUPED_RE.fullmatch(number):
        if _PLAIN_RE.fullmatch(number.replace(",", "")):
            raise ValueError(f"amount {text!r} has a misplaced comma: commas separate thousands (150,000.00)")
        raise ValueError(f"not an amount: {text!r} (expected e.g. 150000 or 'NGN 150,000.00')")
    digits = number.replace(",", "")
    if not _PLAIN_RE.fullmatch(digits):
        raise ValueError(f"not an amount: {text!r} (expected e.g. 150000 or 'NGN 150,000.00')")
    units, _, fraction = digits.partition(".")
    if len(fraction) > 2:
        raise ValueError(f"amount {text!r} has more than two decimals (the smallest unit is 0.01)")
    if len(units) > 1 and units.startswith("0"):
        raise ValueError(f"amount {text!r} has a leading zero")
    subunits = int(units) * SUBUNITS_PER_UNIT + int(fraction.ljust(2, "0"))
    if subunits == 0:
        raise ValueError(f"amount {text!r} is zero: amounts are positive")
    if subunits > MAX_SUBUNITS:
        raise ValueError(f"amount {text!r} is too large (at most {format_amount(MAX_SUBUNITS, 'NGN')[1:]})")
    return subunits


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
