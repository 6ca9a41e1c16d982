"""core/entitlement: the metadata contract, the calendar, covers() and the subscription states."""

from __future__ import annotations

import calendar
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proaudit_ops.core.entitlement import (
    MAX_METADATA_CHARS,
    BillingMetadata,
    Entitlement,
    EntitlementError,
    add_months,
    bought,
    covers,
    expiring_within,
    parse_metadata,
    period_end,
    subscription_state,
)
from proaudit_ops.sandbox.billing_app import add_period

ORG = "0b7f6f0e-3f5c-5c3e-9d1e-6a1c2b3d4e5f"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- the calendar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "cycle", "end"),
    [
        ("2026-01-31T10:30:00", "monthly", "2026-02-28T10:30:00"),
        ("2028-01-31T10:30:00", "monthly", "2028-02-29T10:30:00"),  # leap year
        ("2026-03-31T00:00:00", "monthly", "2026-04-30T00:00:00"),
        ("2026-12-15T23:59:59", "monthly", "2027-01-15T23:59:59"),
        ("2028-02-29T08:00:00", "annual", "2029-02-28T08:00:00"),
        ("2026-05-20T08:00:00", "annual", "2027-05-20T08:00:00"),
        ("2026-05-20T08:00:00", "yearly", "2027-05-20T08:00:00"),
    ],
)
def test_periods_end_by_calendar(start: str, cycle: str, end: str) -> None:
    assert period_end(_t(start), cycle) == _t(end)


def test_periods_are_computed_from_the_start_not_chained() -> None:
    start = _t("2026-01-31T00:00:00")
    assert add_months(start, 2) == _t("2026-03-31T00:00:00")  # not 28 Mar (31 Jan -> 28 Feb -> 28 Mar)


def test_an_unknown_cycle_is_refused() -> None:
    with pytest.raises(EntitlementError, match="unknown billing cycle 'weekly'"):
        period_end(NOW, "weekly")


_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@given(_times, st.sampled_from(["monthly", "annual"]))
def test_the_calendar_properties(start: datetime, cycle: str) -> None:
    end = period_end(start, cycle)
    months = 1 if cycle == "monthly" else 12
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day == min(start.day, calendar.monthrange(end.year, end.month)[1])
    assert end.time() == start.time() and end.tzinfo is not None
    low, high = (28, 31) if cycle == "monthly" else (365, 366)
    assert timedelta(days=low) <= end - start <= timedelta(days=high)
    assert end == add_period(start, cycle)  # the sandbox billing app computes the same period


@given(_times, _times, st.sampled_from(["monthly", "annual"]))
def test_later_starts_never_end_earlier(a: datetime, b: datetime, cycle: str) -> None:
    first, second = sorted((a, b))
    assert period_end(first, cycle) <= period_end(second, cycle)


# -- reading metadata -------------------------------------------------------------------------------

GOOD = {"organization_id": ORG, "tier": "professional", "billing_cycle": "monthly"}


@pytest.mark.parametrize("value", [GOOD, json.dumps(GOOD), {**GOOD, "custom_fields": [{"x": 1}]}])
def test_metadata_as_an_object_or_a_json_string(value: object) -> None:
    assert parse_metadata(value) == BillingMetadata(ORG, "professional", "monthly")


@pytest.mark.parametrize("value", [None, "", 0, [], {}, "null", '""', "{}"])
def test_empty_metadata_says_nothing(value: object) -> None:
    assert parse_metadata(value).empty


def test_metadata_is_normalised() -> None:
    meta = parse_metadata({"organization_id": ORG.upper(), "tier": " Enterprise ", "billing_cycle": "annually"})
    assert meta == BillingMetadata(ORG, "enterprise", "annual")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"tier": "platinum"}, "unknown tier 'platinum'"),
        ({"tier": 3}, "unknown tier 3"),
        ({"billing_cycle": "weekly"}, "unknown billing cycle"),
        ({"organization_id": "acme"}, "is not a UUID"),
        ({"organization_id": 12}, "is not a UUID"),
        ("[1, 2]", "is a list"),
        ("not json", "not valid JSON"),
        (42, "is a int"),
        (b"{}", "bytes"),
        ("x" * (MAX_METADATA_CHARS + 1), "too long"),
        ({"notes": "y" * MAX_METADATA_CHARS}, "too large"),
        ("[" * 20 + "]" * 20, "nested too deeply"),
    ],
)
def test_bad_metadata_is_an_error_that_says_why(value: object, why: str) -> None:
    with pytest.raises(EntitlementError) as caught:
        parse_metadata(value)
    assert why in str(caught.value)


# -- what a payment bought -------------------------------------------------------------------------


def _sku(**over: Any) -> dict[str, Any]:
    row = {
        "tier": "professional",
        "billing_cycle": "monthly",
        "is_active": True,
        "trial_ends_at": None,
        "current_period_start": _t("2026-03-01T09:00:00"),
        "current_period_end": _t("2026-04-01T09:00:00"),
        "cancel_at_period_end": False,
    }
    return {**row, **over}


def test_bought_from_metadata_and_from_the_row() -> None:
    paid = _t("2026-03-01T09:00:00")
    full = bought(ORG, BillingMetadata(ORG, "enterprise", "annual"), _sku(), paid)
    assert (full.tier, full.billing_cycle, full.period_end, full.source) == (
        "enterprise",
        "annual",
        _t("2027-03-01T09:00:00"),
        "metadata",
    )
    assert bought(ORG, BillingMetadata(), _sku(), paid).source == "tenant_sku"
    assert bought(ORG, BillingMetadata(tier="core"), _sku(), paid).source == "metadata+tenant_sku"
    with pytest.raises(EntitlementError, match="belongs to"):
        bought(ORG, BillingMetadata(str(uuid.uuid4())), _sku(), paid)
    with pytest.raises(EntitlementError, match="no tenant_skus row"):
        bought(ORG, BillingMetadata(tier="core"), None, paid)


def _bought(end: str, tier: str = "professional") -> Entitlement:
    return Entitlement(ORG, tier, "monthly", _t("2026-03-01T09:00:00"), _t(end), "metadata")


def test_covers_the_period_and_the_tier_bought_or_higher() -> None:
    paid = _bought("2026-04-01T09:00:00")
    assert covers(_sku(), paid, NOW).covered
    assert covers(_sku(tier="enterprise"), paid, NOW).covered
    assert covers(_sku(current_period_end=_t("2026-05-01T00:00:00")), paid, NOW).covered
    assert covers(_sku(current_period_end=_t("2026-04-01T09:00:00.900000")), paid, NOW).covered  # to the second


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"is_active": False}, "not active"),
        ({"trial_ends_at": _t("2026-03-20T00:00:00")}, "still a trial"),
        ({"tier": "core"}, "tier is core, the payment bought professional"),
        ({"current_period_end": _t("2026-03-09T00:00:00")}, "the payment bought until 2026-04-01T09:00:00+00:00"),
        ({"current_period_end": None}, "current_period_end is unset"),
    ],
)
def test_not_covered_says_why(over: dict[str, Any], why: str) -> None:
    coverage = covers(_sku(**over), _bought("2026-04-01T09:00:00"), NOW)
    assert not coverage.covered
    assert why in coverage.explanation


def test_a_period_already_over_is_covered_trivially_and_no_row_is_not() -> None:
    over = covers(_sku(is_active=False), _bought("2026-03-05T00:00:00"), NOW)
    assert over.covered and "nothing left to entitle" in over.explanation
    assert not covers(None, _bought("2026-04-01T09:00:00"), NOW).covered


def test_states_and_expiring() -> None:
    assert subscription_state(_sku(), NOW) == "active"
    assert subscription_state(_sku(is_active=False), NOW) == "cancelled"
    assert subscription_state(_sku(trial_ends_at=_t("2026-03-20T00:00:00")), NOW) == "trial"
    assert subscription_state(_sku(current_period_end=_t("2026-03-01T00:00:00")), NOW) == "past_due"
    assert subscription_state(_sku(current_period_end=None), NOW) == "past_due"
    soon = _sku(current_period_end=NOW + timedelta(days=3))
    assert expiring_within(soon, NOW, timedelta(days=7))
    assert not expiring_within(soon, NOW, timedelta(days=2))
    assert not expiring_within(_sku(), NOW, timedelta(days=7))
    assert not expiring_within({**soon, "is_active": False}, NOW, timedelta(days=7))
