"""What operators type, validated whole and explained: references, durations, case look-ups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from proaudit_ops.core.references import MAX_REFERENCE_LENGTH, validate_reference
from proaudit_ops.errors import NotFoundError, UsageError
from proaudit_ops.timeutil import MAX_DURATION, format_duration, parse_duration

REF = "PSK-STUCK-0001"


@pytest.mark.parametrize("good", [REF, "a", "A" * MAX_REFERENCE_LENGTH, "x.y=z_1-2", "T1234567890", "-", ".a"])
def test_a_valid_reference_comes_back_unchanged(good: str) -> None:
    assert validate_reference(good) == good


@pytest.mark.parametrize(
    ("bad", "message", "hint"),
    [
        # `$` used to accept a trailing newline, and the HTTP layer stripped it: replay acted on REF.
        (REF + "\n", "has a trailing newline", f"did you mean {REF}?"),
        (REF + " ", "has a trailing space", f"did you mean {REF}?"),
        ("\t" + REF, "has a leading tab", f"did you mean {REF}?"),
        (" " + REF + " ", "has a leading space and a trailing space", f"did you mean {REF}?"),
        (REF + "\u00a0", "has a trailing no-break space", f"did you mean {REF}?"),
        ("   ", "is only whitespace", "1-100 letters"),
        (
            REF.replace("-", "\u2013", 1),
            "contains '\u2013' EN DASH (U+2013) at position 4, a look-alike of the ASCII '-'",
            REF,
        ),
        (REF.replace("-", "\u2212"), "MINUS SIGN (U+2212)", REF),
        (REF.replace("-", "\u2011"), "NON-BREAKING HYPHEN (U+2011)", REF),
        ("\u0420" + REF[1:], "CYRILLIC CAPITAL LETTER ER (U+0420) at position 1, a look-alike of the ASCII 'P'", REF),
        ("\uff30SK-1", "FULLWIDTH LATIN CAPITAL LETTER P (U+FF30)", "did you mean PSK-1?"),
        (REF[:4] + "\u200b" + REF[4:], "contains an invisible ZERO WIDTH SPACE (U+200B) at position 5", REF),
        ("\ufeff" + REF, "invisible ZERO WIDTH NO-BREAK SPACE (U+FEFF)", REF),
        ("PSK STUCK", "contains a space at position 4", "1-100 letters"),
        ("PSK/..", "'/' SOLIDUS (U+002F) at position 4, which a Paystack reference cannot contain", "1-100"),
        (".", "only dots", "1-100 letters"),
        ("..", "only dots", "1-100 letters"),
        ("A" * (MAX_REFERENCE_LENGTH + 1), "101 characters, over the limit of 100", "1-100 letters"),
        ("", "the reference is empty", "1-100 letters"),
        ("PSK-\x00", "(U+0000)", "1-100 letters"),
    ],
)
def test_a_pasted_look_alike_is_explained(bad: str, message: str, hint: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_reference(bad)
    assert message in caught.value.message
    assert hint in (caught.value.hint or "")
    assert "\n" not in caught.value.message  # the funnel prints one line


def test_a_huge_reference_is_refused_by_length_without_echoing_it() -> None:
    with pytest.raises(UsageError) as caught:
        validate_reference("A" * 10_000_000)
    assert "10000000 characters" in caught.value.message
    assert len(caught.value.message) < 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("24H", timedelta(hours=24)),
        (" 30d ", timedelta(days=30)),
        ("3650d", MAX_DURATION),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("99999999999d", "99999999999d is out of range: allowed 0s to 3650d"),  # was OverflowError (exit 70)
        ("3651d", "out of range"),
        ("522w", "out of range"),
        ("2147483648000h", "out of range"),
        ("9" * 5000 + "d", "not a duration"),
        ("\u0662\u0664h", "not a duration"),  # int() accepts Arabic-Indic digits; we do not
        ("24h\nx", "not a duration"),
        ("1.5h", "not a duration"),
        ("-1d", "not a duration"),
    ],
)
def test_a_bad_duration_is_a_value_error_with_the_range(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"duration|range") as caught:
        parse_duration(text)
    assert message in str(caught.value)


def test_duration_bounds_per_flag() -> None:
    with pytest.raises(ValueError, match="allowed 1s to 3650d"):
        parse_duration("0s", minimum=timedelta(seconds=1))
    assert parse_duration("0s") == timedelta(0)
    assert [format_duration(timedelta(seconds=s)) for s in (0, 1, 90, 900, 86400, 3650 * 86400)] == [
        "0s",
        "1s",
        "90s",
        "15m",
        "1d",
        "3650d",
    ]


def _insert_payment(engine: Any, reference: str) -> None:
    import uuid

    from sqlalchemy import insert

    from proaudit_ops.db.schema import organizations, payment_transactions
    from proaudit_ops.timeutil import utcnow

    now = {"created_at": utcnow(), "updated_at": utcnow()}

    with engine.begin() as conn:
        org = str(uuid.uuid4())
        conn.execute(insert(organizations).values(id=org, name="Acme", email="a@example.com", **now))
        conn.execute(
            insert(payment_transactions).values(
                id=str(uuid.uuid4()),
                organization_id=org,
                reference=reference,
                status="pending",
                amount_kobo=100,
                currency="NGN",
                **now,
            )
        )


def test_case_variant_finds_the_upper_case_reference(engine: Any) -> None:
    """verify's not-found path: `psk-stuck-0001` names PSK-STUCK-0001, on PostgreSQL and SQLite."""
    from proaudit_ops.core.payments.verify import case_variant, not_found_with_variant
    from proaudit_ops.db.engine import read_only

    _insert_payment(engine, REF)
    with read_only(engine) as conn:
        assert case_variant(conn, REF.lower()) == REF
        assert case_variant(conn, REF) is None  # the exact spelling is not a variant of itself
        assert case_variant(conn, "psk-other-0001") is None
    error = not_found_with_variant(REF.lower(), REF)
    assert isinstance(error, NotFoundError) and error.exit_code == 2
    assert error.message == f"no payment {REF.lower()}; did you mean {REF}? references are case-sensitive"
