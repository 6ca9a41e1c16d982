"""What the customer and the next operator see after a dunning retry: the charge is a payment of
its own (the failed payment that started the dunning stays failed), Paystack and the database
agree on both references, the subscription covers what the charge bought, and reconcile finds no
drift from the retry."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.dunning.test_dunning import SAHEL, cli, sandbox_db


def payments_of(home: Path, org: str) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{sandbox_db(home)}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.reference, p.status FROM payment_transactions p JOIN organizations o "
                "ON o.id = p.organization_id WHERE o.name = :n"
            ),
            {"n": org},
        ).all()
    engine.dispose()
    return {str(r[0]): str(r[1]) for r in rows}


def test_a_recovered_charge_is_its_own_payment_and_entitles_the_customer(isolated_env: Path) -> None:
    code, out, err = cli("--json", "dunning", "retry", SAHEL, "--yes")
    assert code == 0, err
    payments = payments_of(isolated_env, SAHEL)
    charged = [ref for ref in payments if ref.startswith("DUN-")]
    assert len(charged) == 1 and payments[charged[0]] == "success"
    assert payments["PSK-FAILED-0002"] == "failed"  # the attempt that failed is still history
    code, out, _ = cli("payments", "verify", charged[0])
    assert code == 0 and "consistent" in out and "subscription: entitled" in out
    code, out, _ = cli("payments", "verify", "PSK-FAILED-0002")
    assert code == 0 and "consistent" in out
    code, out, _ = cli("--json", "reconcile")  # exit 1: the seeded drift (stuck, ghost ...) is still there
    categories = json.loads(out)["data"]["categories"]
    drifting = {ref for category in categories for ref in category["references"]}
    assert code == 1 and "PSK-STUCK-0001" in drifting
    assert charged[0] not in drifting and "PSK-FAILED-0002" not in drifting


def test_a_declined_charge_is_recorded_as_a_failed_payment(isolated_env: Path) -> None:
    code, out, _ = cli("dunning", "retry", "nnamdi", "--yes")
    assert code == 1 and "Insufficient Funds" in out
    payments = payments_of(isolated_env, "Nnamdi & Sons Hardware")
    charged = [ref for ref in payments if ref.startswith("DUN-")]
    assert len(charged) == 1 and payments[charged[0]] == "failed"
    code, out, _ = cli("payments", "verify", charged[0])
    assert code == 0 and "consistent" in out
