"""Issue 10's "done when": open, a guarded fix with the incident current, note, close, report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest


def _open(proaudit: Any, *args: str) -> str:
    ran = proaudit("--json", "incident", "open", "--severity", "P2", "--title", "Webhooks failing", *args)
    assert ran.exit_code == 0, ran.stderr
    return str(ran.json()["data"]["incident"]["id"])


def test_open_fix_note_close_report_has_the_fix_in_its_timeline(proaudit: Any, tmp_path: Path) -> None:
    opened = proaudit("incident", "open", "--severity", "P1", "--title", "Payments stuck after webhook outage")
    assert opened.exit_code == 0, opened.stderr
    incident = re.search(r"incident (INC-\d{8}-[0-9A-F]{4}) opened", opened.stdout)
    assert incident, opened.stdout
    inc = incident.group(1)
    assert re.search(r"respond by \d\d:\d\d UTC \(15m from", opened.stdout)  # P1: 15 minutes
    assert "Engineering Lead" in opened.stdout and "CTO" in opened.stdout  # the P1 escalation matrix

    fixed = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")  # no --incident: it is current
    assert fixed.exit_code == 0, fixed.stderr
    assert proaudit("incident", "note", "Paystack confirmed the charge; fixed the row").exit_code == 0
    closed = proaudit("incident", "close", "--resolution", "Settled PSK-STUCK-0001 from Paystack's record")
    assert closed.exit_code == 0, closed.stderr
    assert "no current incident now" in closed.stdout

    out = tmp_path / "report.md"
    ran = proaudit("incident", "report", inc, "--out", str(out))
    assert ran.exit_code == 0, ran.stderr
    report = out.read_text()
    assert report.startswith("## Incident Report: Payments stuck after webhook outage")
    assert "**Severity:** P1" in report
    timeline = report.split("### Timeline")[1].split("### Root Cause")[0]
    kinds = [line for line in timeline.splitlines() if line.startswith("- ")]
    assert "Incident detected and opened" in kinds[0]
    fix = next(line for line in kinds if "Fix applied" in line)
    assert "`payments.fix` PSK-STUCK-0001: applied" in fix
    assert "(audit #2, test-operator" in fix  # the record, and who ran it
    assert any("Note by test-operator" in line and "Paystack confirmed" in line for line in kinds)
    assert "Closed by test-operator" in kinds[-4]  # then the three prompts a person must fill in
    assert "Bluewave Logistics" in report  # the affected customer, from the record's organization_id
    assert "**Impact:** 1 customers affected, ₦150,000.00 potential revenue impact" in report
    assert "Settled PSK-STUCK-0001 from Paystack's record" in report.split("### Resolution")[1]
    for section in ("### Root Cause", "### Action Items", "### Lessons Learned"):
        assert "[TO WRITE]" in report.split(section)[1].split("###")[0], section


def test_the_fix_record_is_tagged_and_incident_changes_are_audited(proaudit: Any) -> None:
    inc = _open(proaudit)
    assert proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes").exit_code == 0
    assert proaudit("incident", "ack").exit_code == 0
    assert proaudit("incident", "note", "looking").exit_code == 0
    assert proaudit("incident", "close").exit_code == 0
    records = proaudit("--json", "audit", "log", "--incident", inc).json()["data"]["records"]
    assert [r["action"] for r in records] == [
        "incident.open",
        "payments.fix",
        "incident.ack",
        "incident.note",
        "incident.close",
    ]
    assert all(r["incident"] == inc for r in records)
    assert proaudit("audit", "verify").exit_code == 0
    # after close, nothing is current: a later fix is not tagged
    assert proaudit("payments", "verify", "PSK-ABANDONED-0001", "--fix", "--yes").exit_code == 0
    last = proaudit("--json", "audit", "log", "--target", "PSK-ABANDONED-0001").json()["data"]["records"]
    assert last[-1]["incident"] is None


def test_flag_beats_environment_beats_current_file(proaudit: Any) -> None:
    _open(proaudit)
    assert proaudit("--incident", "INC-FLAG", "payments", "verify", "PSK-STUCK-0001", "--fix", "--yes").exit_code == 0
    env = {"PROAUDIT_INCIDENT": "INC-ENV"}
    assert proaudit("payments", "verify", "PSK-ABANDONED-0001", "--fix", "--yes", env=env).exit_code == 0
    tags = {}
    for ref in ("PSK-STUCK-0001", "PSK-ABANDONED-0001"):  # `audit log` alone lists the current incident's
        (record,) = proaudit("--json", "audit", "log", "--target", ref).json()["data"]["records"]
        tags[ref] = record["incident"]
    assert tags == {"PSK-STUCK-0001": "INC-FLAG", "PSK-ABANDONED-0001": "INC-ENV"}


def test_two_operators_see_the_same_notes_and_only_one_close_wins(proaudit: Any) -> None:
    inc = _open(proaudit)
    assert proaudit("incident", "note", "ada: checking Paystack", env={"PROAUDIT_OPERATOR": "ada"}).exit_code == 0
    assert (
        proaudit("incident", "note", "--id", inc, "bola: webhook 500s", env={"PROAUDIT_OPERATOR": "bola"}).exit_code
        == 0
    )
    notes = proaudit("--json", "incident", "status", inc).json()["data"]["notes"]
    assert [(n["author"].split()[0], n["text"]) for n in notes] == [
        ("ada", "ada: checking Paystack"),
        ("bola", "bola: webhook 500s"),
    ]
    assert proaudit("incident", "close", inc).exit_code == 0
    again = proaudit("incident", "close", inc)
    assert again.exit_code == 4
    assert "already closed" in again.stderr


def test_list_marks_the_current_incident_and_page_names_the_escalation(proaudit: Any) -> None:
    first = _open(proaudit)
    second = _open(proaudit, "--id", "INC-1234")
    listing = proaudit("--json", "incident", "list").json()["data"]
    assert listing["current"] == "INC-1234"
    assert {i["id"] for i in listing["incidents"]} == {first, second}
    paged = proaudit("incident", "page")
    assert paged.exit_code == 0
    assert "On-call Engineer" in paged.stdout and "PagerDuty rotation" in paged.stdout
    assert re.search(r"at \d\d:\d\d UTC\s+.\s+Engineering Lead", paged.stdout)
    custom = proaudit(
        "--json", "incident", "page", env={"PROAUDIT_INCIDENT_CONTACTS": json.dumps({"Engineering Lead": "page @ada"})}
    ).json()["data"]
    assert custom["page_at_escalation"] == [{"role": "Engineering Lead", "contact": "page @ada"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--severity", "P9", "--title", "x"], "--severity must be one of P1, P2, P3, P4"),
        (["--severity", "P1", "--title", "   "], "--title is empty"),
        (["--severity", "P1", "--title", "a\nb"], "control character or a line break"),
        (["--severity", "P1", "--title", "x", "--id", "../etc"], "malformed"),
    ],
)
def test_bad_open_input_is_one_line_exit_2_and_changes_nothing(proaudit: Any, args: list[str], message: str) -> None:
    ran = proaudit("incident", "open", *args)
    assert ran.exit_code == 2
    assert message in ran.stderr
    assert proaudit("--json", "incident", "list").json()["data"]["incidents"] == []


def test_note_without_an_incident_says_how_to_open_one(proaudit: Any) -> None:
    ran = proaudit("incident", "note", "hello")
    assert ran.exit_code == 2
    assert "no incident given and none is current" in ran.stderr


def test_a_sandbox_incident_never_tags_another_database(proaudit: Any, tmp_path: Path) -> None:
    """The current-incident file names its database: a practice incident stays in the sandbox."""
    from proaudit_ops.config import load_settings
    from proaudit_ops.core.incident.current import current_incident_id

    inc = _open(proaudit)
    assert current_incident_id(load_settings(None, None)) == inc
    other = {"DATABASE_URL": f"sqlite:///{tmp_path / 'billing.db'}"}
    import os

    os.environ.update(other)
    try:
        assert current_incident_id(load_settings(None, None)) is None
    finally:
        for key in other:
            del os.environ[key]


def test_report_out_refuses_a_directory(proaudit: Any, tmp_path: Path) -> None:
    inc = _open(proaudit)
    ran = proaudit("incident", "report", inc, "--out", str(tmp_path))
    assert ran.exit_code == 2
    assert "is a directory" in ran.stderr


def test_page_after_30_minutes_says_the_escalation_is_due(proaudit: Any) -> None:
    from datetime import timedelta

    from proaudit_ops.config import load_settings
    from proaudit_ops.core.incident.ops import page_incident
    from proaudit_ops.runtime import Runtime

    inc = _open(proaudit)
    with Runtime(load_settings(None, None)) as rt:
        opened = page_incident(rt, inc)
        later = page_incident(rt, inc, now=opened.incident.opened_at + timedelta(minutes=31))
    assert [c.role for c in opened.page_now] == ["On-call Engineer"]
    assert [c.role for c in opened.page_at_escalation] == ["Engineering Lead"]
    assert [c.role for c in later.page_now] == ["On-call Engineer", "Engineering Lead"]
    assert later.escalation_due and "was due at" in later.notes[0]
    assert proaudit("incident", "close", inc).exit_code == 0
    with Runtime(load_settings(None, None)) as rt:
        closed = page_incident(rt, inc)
    assert closed.page_now == [] and "is closed" in closed.notes[0]
