"""The report is generic over any command's records (refunds, dunning, ...), and works on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from proaudit_ops.audit import AuditEntry
from proaudit_ops.config import load_settings
from proaudit_ops.db.engine import write_tx
from proaudit_ops.runtime import Runtime
from proaudit_ops.sandbox.dataset import ORG_IDS


def _record(action: str, target: str, outcome: str, **fields: Any) -> None:
    """What another group's command writes, tagged with the current incident (no --incident)."""
    with (
        Runtime(load_settings(None, None), argv=["proaudit", *action.split(".")]) as rt,
        write_tx(rt.engine(), lock_timeout_ms=2000, statement_timeout_ms=15000) as conn,
    ):
        rt.audit_log().append(conn, AuditEntry(action=action, target=target, outcome=outcome, **fields))


def test_any_commands_records_feed_the_timeline_customers_and_amounts(proaudit: Any) -> None:
    inc = proaudit("--json", "incident", "open", "--severity", "P3", "--title", "Refund dispute").json()["data"]
    inc_id = inc["incident"]["id"]
    _record(
        "refunds.issue",
        "PSK-ELIGIBLE-0001",
        "applied",
        before={"reference": "PSK-ELIGIBLE-0001", "amount_kobo": 15_000_000, "currency": "NGN"},
        after={"reference": "PSK-ELIGIBLE-0001", "refund_amount_kobo": 5_000_000},
        external_ids={"refund_id": 3018299},
    )
    _record("dunning.retry", "sub-unknown", "unknown", after={"organization_id": ORG_IDS["nnamdi"], "amount": 500_000})
    _record("refunds.issue", "PSK-LATE-0001", "refused")  # no amount in the record: taken from the payment row
    _record("webhooks.replay", "PSK-OK-0001", "aborted")  # aborted: not a change, not in the report
    report = proaudit("incident", "report", inc_id)
    assert report.exit_code == 0, report.stderr
    text = report.stdout
    assert "`refunds.issue` PSK-ELIGIBLE-0001: applied (external ids: refund_id=3018299)" in text
    assert "`dunning.retry` sub-unknown: unknown" in text
    assert "`refunds.issue` PSK-LATE-0001: refused" in text
    assert "webhooks.replay" not in text
    for name in ("Eko Bakery Ltd", "Nnamdi & Sons Hardware", "Jos Plateau Farms"):
        assert name in text
    # 150,000.00 (Eko) + 5,000.00 (the dunning charge) + 1,500,000.00 (Jos's annual plan)
    assert "3 customers affected, ₦1,655,000.00 potential revenue impact" in text
    assert "Fix applied (last change): `refunds.issue` PSK-ELIGIBLE-0001" in text  # the last applied one
    assert "Duration:** 0 hours 0 minutes so far (still open)" in text


@pytest.mark.postgres
def test_incident_flow_on_postgres(pg_proaudit: Any) -> None:
    opened = pg_proaudit("--json", "incident", "open", "--severity", "P2", "--title", "pg", "--id", "INC-PG-1")
    assert opened.exit_code == 0, opened.stderr
    assert pg_proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes").exit_code == 0
    assert pg_proaudit("incident", "ack").exit_code == 0
    assert pg_proaudit("incident", "ack").exit_code == 4  # once
    assert pg_proaudit("incident", "note", "on postgres").exit_code == 0
    assert pg_proaudit("incident", "close", "--resolution", "done").exit_code == 0
    report = pg_proaudit("incident", "report", "INC-PG-1")
    assert report.exit_code == 0, report.stderr
    assert "Fix applied (last change): `payments.fix` PSK-STUCK-0001: applied" in report.stdout
    assert "Bluewave Logistics" in report.stdout
    assert "Acknowledged by test-operator" in report.stdout
    assert pg_proaudit("audit", "verify").exit_code == 0
