"""Validation of what operators type: Paystack references.

A reference is pasted at 3 a.m. from a receipt, a chat or a dashboard, so the refusal says exactly
what is wrong (a trailing space, an en dash, an invisible character) and what to type instead.
Validation is whole-string (`fullmatch`): `$` would accept a trailing newline, which the HTTP
layer used to strip, so `"PSK-X\\n"` acted on PSK-X.
"""

from __future__ import annotations

import re
import unicodedata

from proaudit_ops.errors import UsageError

# Paystack: "only -, ., = and alphanumeric characters" (reference/paystack-api.md section 4); we
# also accept `_`, which real integrations use. Short strings: 100 chars is generous.
MAX_REFERENCE_LENGTH = 100
_REFERENCE_RE = re.compile(rf"[A-Za-z0-9\-_.=]{{1,{MAX_REFERENCE_LENGTH}}}")
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=")
_SHAPE_HINT = f"a Paystack reference is 1-{MAX_REFERENCE_LENGTH} letters, digits or - _ . ="

# Invisible characters that survive a copy from a web page or a chat.
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u200e\u200f")

# Look-alikes NFKC does not map to ASCII: dashes and minus signs, and the Cyrillic/Greek capitals
# and small letters that render like Latin ones in the usual fonts.
_LOOKALIKES: dict[str, str] = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\u2043\u02d7", "-"),
    **dict.fromkeys("\u2024\u00b7\u2027", "."),
    # Cyrillic capitals, Cyrillic small letters, Greek capitals (pairs: look-alike, Latin).
    **dict(zip("\u0410\u0412\u0421\u0415\u041d\u0406\u0408\u041a", "ABCEHIJK", strict=True)),
    **dict(zip("\u041c\u041e\u0420\u0405\u0422\u0425\u0423", "MOPSTXY", strict=True)),
    **dict(zip("\u0430\u0441\u0435\u0456\u0458\u043e\u0440\u0455\u0445\u0443", "aceijopsxy", strict=True)),
    **dict(zip("\u0391\u0392\u0395\u0396\u0397\u0399\u039a", "ABEZHIK", strict=True)),
    **dict(zip("\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03bf", "MNOPTYXo", strict=True)),
}

_WHITESPACE_NAMES = {" ": "space", "\t": "tab", "\n": "newline", "\r": "carriage return", "\u00a0": "no-break space"}


def validate_reference(reference: str) -> str:
    """The reference unchanged if it is one Paystack accepts; a UsageError saying what is wrong otherwise."""
    if reference == "":
        raise UsageError("the reference is empty", hint=_SHAPE_HINT)
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise UsageError(
            f"reference {_shown(reference)} is {len(reference)} characters, over the limit of {MAX_REFERENCE_LENGTH}",
            hint=_SHAPE_HINT,
        )
    if _REFERENCE_RE.fullmatch(reference):
        if set(reference) == {"."}:
            # `.` and `..` are path segments with a meaning, never a payment.
            raise UsageError(f"{reference!r} is not a reference (only dots)", hint=_SHAPE_HINT)
        return reference
    raise UsageError(_diagnose(reference), hint=_suggest(reference))


def _diagnose(reference: str) -> str:
    shown = _shown(reference)
    if not reference.strip():
        return f"reference {shown} is only whitespace"
    leading, trailing = reference[0].isspace(), reference[-1].isspace()
    if leading and trailing:
        return (
            f"reference {shown} has a leading {_space_name(reference[0])} and a trailing {_space_name(reference[-1])}"
        )
    if leading:
        return f"reference {shown} has a leading {_space_name(reference[0])}"
    if trailing:
        return f"reference {shown} has a trailing {_space_name(reference[-1])}"
    for position, ch in enumerate(reference, start=1):
        if ch in _ALLOWED:
            continue
        what = f"{_char_name(ch)} at position {position}"
        if ch in _ZERO_WIDTH or unicodedata.category(ch) == "Cf":
            return f"reference {shown} contains an invisible {what}"
        ascii_ch = _ascii_for(ch)
        if ascii_ch is not None:
            return f"reference {shown} contains {what}, a look-alike of the ASCII {ascii_ch!r}"
        if ch.isspace():
            return f"reference {shown} contains a {_space_name(ch)} at position {position}"
        return f"reference {shown} contains {what}, which a Paystack reference cannot contain"
    return f"malformed reference {shown}"  # pragma: no cover - every failure is named above


def _suggest(reference: str) -> str:
    """What to type instead, when the fix is unambiguous; otherwise the shape of a reference."""
    cleaned = "".join(
        "" if ch in _ZERO_WIDTH or unicodedata.category(ch) == "Cf" else (_ascii_for(ch) or ch)
        for ch in reference.strip()
    )
    if cleaned != reference and _REFERENCE_RE.fullmatch(cleaned) and set(cleaned) != {"."}:
        return f"did you mean {cleaned}?"
    return _SHAPE_HINT


def _ascii_for(ch: str) -> str | None:
    """The allowed ASCII character `ch` is mistaken for (an en dash for '-', a fullwidth 'Ａ' for 'A')."""
    if ch in _LOOKALIKES:
        return _LOOKALIKES[ch]
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) == 1 and folded in _ALLOWED else None


def _char_name(ch: str) -> str:
    """`'–' EN DASH (U+2013)`; an invisible or control character without the character itself."""
    name = unicodedata.name(ch, None)
    code = f"U+{ord(ch):04X}"
    if name is None:
        return f"{ch!r} ({code})"
    return f"{ch!r} {name} ({code})" if ch.isprintable() and not ch.isspace() else f"{name} ({code})"


def _space_name(ch: str) -> str:
    return _WHITESPACE_NAMES.get(ch, f"whitespace character {_char_name(ch)}")


def _shown(reference: str) -> str:
    """repr: control and invisible characters show as escapes, and the message stays one line."""
    return repr(reference if len(reference) <= 40 else reference[:40] + "...")
