"""Canonical JSON and record hashing: deterministic, whatever the dict order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proaudit_ops.audit.canonical import canonical_json, plain_json, sha256_hex, ts_iso
from proaudit_ops.audit.records import AuditContext, AuditEntry, AuditRecord, record_hash
from proaudit_ops.money import Money

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)


def reverse_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reverse_order(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reverse_order(item) for item in value]
    return value


@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_canonical_json_ignores_dict_order(value: dict[str, Any]) -> None:
    assert canonical_json(reverse_order(value)) == canonical_json(value)


@given(values)
def test_canonical_json_survives_a_round_trip(value: Any) -> None:
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


@given(
    st.dictionaries(st.text(max_size=8), values, max_size=6),
    st.integers(min_value=1, max_value=10**9),
)
def test_record_hash_is_deterministic_under_key_order(before: dict[str, Any], seq: int) -> None:
    def payload(b: Any) -> dict[str, Any]:
        record = AuditRecord(
            seq=seq,
            ts=datetime(2024, 8, 22, 9, 15, 2, 5, tzinfo=UTC),
            actor="a (os:b)",
            host="h",
            command="proaudit x",
            incident=None,
            action="payments.fix",
            target="ref",
            before=b,
            after=None,
            outcome="applied",
            external_ids=None,
            prev_hash="0" * 64,
            hash="",
        )
        return record.payload()

    assert record_hash(payload(before)) == record_hash(payload(reverse_order(before)))
    assert record_hash(payload(before)) != record_hash(payload({"other": before}))


def test_canonical_form() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "₦"]}) == '{"a":[true,null,"₦"],"b":1}'


def test_datetimes_money_sets_and_dataclasses() -> None:
    lagos = timezone(timedelta(hours=1))

    @dataclass
    class Row:
        amount: Money
        when: datetime
        tags: frozenset[str]

    value = Row(Money(15_000_000, "NGN"), datetime(2024, 8, 22, 10, 0, tzinfo=lagos), frozenset({"b", "a"}))
    assert plain_json(value) == {
        "amount": {"subunits": 15_000_000, "currency": "NGN", "formatted": "₦150,000.00"},
        "when": "2024-08-22T09:00:00Z",
        "tags": ["a", "b"],
    }


@pytest.mark.parametrize("bad", [Decimal("1.50"), float("nan"), float("inf"), object(), {1.5: "x"}])
def test_values_without_one_json_form_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json({"x": bad})


def test_ts_has_microseconds_and_z() -> None:
    assert ts_iso(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError, match="naive"):
        ts_iso(datetime(2024, 1, 1))


def test_sha256_hex() -> None:
    assert sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_context_actor_and_entry_validation() -> None:
    ctx = AuditContext(operator="ada", os_user="ada1", host="h", command="proaudit x")
    assert ctx.actor == "ada (os:ada1)"
    detected = AuditContext.detect(None, "proaudit y", "INC-1")
    assert detected.operator == detected.os_user
    assert detected.incident == "INC-1"
    with pytest.raises(ValueError, match="outcome"):
        AuditEntry(action="x", target=None, outcome="done")
    with pytest.raises(ValueError, match="action"):
        AuditEntry(action="", target=None, outcome="planned")


def test_file_line_round_trip_keeps_the_hash() -> None:
    record = AuditRecord(
        seq=1,
        ts=datetime(2024, 8, 22, tzinfo=UTC),
        actor="a",
        host="h",
        command="c",
        incident=None,
        action="x",
        target=None,
        before={"b": 1},
        after=[1, 2],
        outcome="planned",
        external_ids={"refund_id": 7},
        prev_hash="0" * 64,
        hash="",
    )
    signed = AuditRecord(**{**record.__dict__, "hash": record.computed_hash()})
    again = AuditRecord.from_dict(json.loads(signed.to_json_line()))
    assert again == signed
    assert again.computed_hash() == signed.hash
