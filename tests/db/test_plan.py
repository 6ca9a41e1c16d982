"""Plans: JSON-only values, a stable hash, a file that round-trips and refuses hand edits."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from proaudit_ops.errors import Refused, UsageError
from proaudit_ops.protocols.plan import Plan, RowChange

WHEN = datetime(2024, 8, 22, 9, 15, 2, 123456, tzinfo=UTC)
KEY = b"0123456789abcdef0123456789abcdef"


def change(**overrides: object) -> RowChange:
    values: dict[str, object] = {
        "table": "payment_transactions",
        "key": {"id": "5b0c3f5e-0000-4000-8000-000000000001"},
        "guards": {"status": "pending"},
        "new_values": {"status": "success", "paid_at": WHEN},
        "before": {
            "status": "pending",
            "paid_at": None,
            "amount_kobo": 15_000_000,
            "created_at": WHEN,
        },
        "label": "ref-1",
    }
    values.update(overrides)
    return RowChange(**values)  # type: ignore[arg-type]


def plan(*changes: RowChange) -> Plan:
    return Plan(
        action="payments.fix",
        reason="stuck",
        changes=changes or (change(),),
        created_at=WHEN,
        target="ref-1",
    )


def test_values_are_stored_as_json() -> None:
    c = change()
    assert c.new_values == {"status": "success", "paid_at": "2024-08-22T09:15:02.123456Z"}
    assert c.before["created_at"] == "2024-08-22T09:15:02.123456Z"


def test_decimal_is_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        change(new_values={"amount_kobo": Decimal("1.5")})


def test_empty_key_or_no_new_values_or_key_change_is_refused() -> None:
    with pytest.raises(ValueError, match="empty key"):
        change(key={})
    with pytest.raises(ValueError, match="changes nothing"):
        change(new_values={})
    with pytest.raises(ValueError, match="key column"):
        change(new_values={"id": "x"})


def test_json_round_trip_is_equal_and_keeps_the_hash() -> None:
    original = plan(change(), change(label="ref-2", key={"id": "other"}))
    loaded = Plan.from_json(original.to_json(KEY), KEY)
    assert loaded == original
    assert loaded.plan_hash == original.plan_hash
    assert loaded.expected_rows == 2
    assert json.loads(original.to_json(KEY))["plan_hash"] == original.plan_hash


def test_hash_changes_with_any_value() -> None:
    base = plan()
    assert plan(change(new_values={"status": "failed"})).plan_hash != base.plan_hash
    assert plan(change(guards={"status": "abandoned"})).plan_hash != base.plan_hash
    assert plan(change(label="ref-x")).plan_hash != base.plan_hash


def test_hash_does_not_depend_on_dict_order() -> None:
    a = change(new_values={"status": "success", "paid_at": WHEN})
    b = change(new_values={"paid_at": WHEN, "status": "success"})
    assert plan(a).plan_hash == plan(b).plan_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"status": "success"', '"status": "refunded"'),
        ('"status": "pending"', '"status": "failed"'),
        ('"target": "ref-1"', '"target": "ref-2"'),
        ('"expected_rows": 1', '"expected_rows": 2'),
    ],
)
def test_edited_plan_text_is_refused(old: str, new: str) -> None:
    text = plan().to_json(KEY)
    assert old in text
    with pytest.raises(Refused, match="plan file was changed"):
        Plan.from_json(text.replace(old, new, 1), KEY)


def test_reformatting_a_plan_file_is_harmless() -> None:
    original = plan()
    compact = json.dumps(json.loads(original.to_json(KEY)))
    assert Plan.from_json(compact, KEY) == original


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"format": 99}', "not json"])
def test_garbage_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"not a proaudit plan file|not valid JSON"):
        Plan.from_json(text, KEY)


def test_write_is_private_and_load_reads_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = plan().write(tmp_path / "sub" / "plan.json", KEY)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Plan.load(path, KEY) == plan()
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]


def test_missing_plan_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"plan file .*no such file"):
        Plan.load(tmp_path / "nope.json", KEY)


def test_summary_carries_the_hash_but_not_the_rows() -> None:
    summary = plan().summary()
    assert summary["plan_hash"] == plan().plan_hash
    assert "before" not in summary["changes"][0]


def test_hash_covers_the_review_not_the_time_of_planning() -> None:
    later = Plan("payments.fix", "stuck", (change(),), WHEN.replace(hour=23), "ref-1")
    assert later.plan_hash == plan().plan_hash
    assert later.mac(KEY) == plan().mac(KEY)
    assert plan(change(touch=("updated_at",))).plan_hash != plan().plan_hash
    assert plan().mac(KEY) != plan().mac(KEY[::-1])


def test_touch_columns_are_names_apart_from_the_key_and_the_new_values() -> None:
    assert change(touch=["updated_at", "updated_at"]).touch == ("updated_at",)
    with pytest.raises(ValueError, match="both sets and touches"):
        change(touch=("status",))
    with pytest.raises(ValueError, match="key column"):
        change(touch=("id",))
    with pytest.raises(TypeError, match="touch"):
        change(touch="updated_at")


def test_a_plan_signed_with_another_key_is_refused() -> None:
    with pytest.raises(Refused, match="not authenticated"):
        Plan.from_json(plan().to_json(KEY), KEY[::-1])


def test_saved_file_carries_hash_and_mac_but_not_the_key() -> None:
    data = json.loads(plan().to_json(KEY))
    assert data["format"] == 2
    assert data["plan_hash"] == plan().plan_hash
    assert data["plan_mac"] == plan().mac(KEY)
    assert KEY.decode() not in plan().to_json(KEY)
