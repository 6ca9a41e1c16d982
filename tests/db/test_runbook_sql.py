"""Every SELECT/UPDATE of the runbook (payments, subscriptions, refunds, dunning) runs unchanged
against the schema contract on a real PostgreSQL server, with placeholders replaced by real values.

The runbook is vendored in tests/data (a test below keeps the copy equal to shared/ when present).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

RUNBOOK = Path(__file__).resolve().parent.parent / "data" / "billing-incident-runbook.md"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "billing-incident-runbook.md"
SECTIONS = (
    "Payment Failures",
    "Subscription Issues",
    "Refund Processing",
    "Dunning/Collection Issues",
)


def runbook_statements() -> list[tuple[str, str]]:
    """(section, statement) for every SQL statement in the sections the tool covers."""
    doc = RUNBOOK.read_text()
    out: list[tuple[str, str]] = []
    parts = re.split(r"^### ", doc, flags=re.M)
    for part in parts:
        title = part.splitlines()[0].strip() if part else ""
        if title not in SECTIONS:
            continue
        for block in re.findall(r"```sql\n(.*?)```", part, flags=re.S):
            body = "\n".join(line for line in block.splitlines() if not line.strip().startswith("--"))
            for statement in body.split(";"):
                if statement.strip():
                    out.append((title, statement.strip()))
    return out


STATEMENTS = runbook_statements()


def test_runbook_copy_is_current() -> None:
    if not SHARED.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert RUNBOOK.read_text() == SHARED.read_text(), "refresh tests/data from shared/seed"


def test_every_covered_section_has_statements() -> None:
    found = {section for section, _ in STATEMENTS}
    assert found == set(SECTIONS)
    kinds = {s.split()[0].upper() for _, s in STATEMENTS}
    assert kinds == {"SELECT", "UPDATE"}
    assert len(STATEMENTS) >= 11


def substitute(statement: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        statement = statement.replace(f"'{placeholder}'", f"'{value}'")
    assert not re.search(r"'[A-Z_]{6,}'", statement), f"unreplaced placeholder in {statement}"
    return statement


@pytest.mark.postgres
@pytest.mark.parametrize(("section", "statement"), STATEMENTS, ids=[f"{s}:{i}" for i, (s, _) in enumerate(STATEMENTS)])
def test_runbook_statement_runs_unchanged_on_postgres(pg_engine: Engine, section: str, statement: str) -> None:
    from proaudit_ops.sandbox.seed import seed_billing
    from proaudit_ops.timeutil import utcnow

    seed_billing(pg_engine, now=utcnow())
    with pg_engine.connect() as conn:
        payment = conn.execute(
            text("SELECT id, reference, organization_id FROM payment_transactions WHERE reference = 'PSK-STUCK-0001'")
        ).one()
        # Dunning queries need an organization in dunning with failed payments: the seed has one.
        dunning_org = conn.execute(
            text(
                "SELECT d.organization_id FROM dunning_records d JOIN payment_transactions p"
                " ON p.organization_id = d.organization_id AND p.status = 'failed' LIMIT 1"
            )
        ).scalar_one()
    org = dunning_org if section.startswith("Dunning") else payment.organization_id
    values = {
        "TXN_REFERENCE": payment.reference,
        "REFERENCE": payment.reference,
        "ORG_UUID": str(org),
        "PAYMENT_UUID": str(payment.id),
        "REFUND_REF": "RFD-TEST-0001",
    }
    sql = substitute(statement, values)
    with pg_engine.connect() as conn, conn.begin() as tx:
        result = conn.execute(text(sql))
        if sql.upper().startswith("SELECT"):
            rows = result.all()
            assert rows, f"the runbook query found nothing on the seeded data: {sql}"
        else:
            assert result.rowcount >= 1, f"the runbook UPDATE matched no row: {sql}"
        tx.rollback()
