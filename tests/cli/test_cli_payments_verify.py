"""`payments verify` gives the right diagnosis and exit code for each seeded reference,
in human and --json form, on the sandbox and on PostgreSQL."""

from __future__ import annotations

import pytest

EXPECTED = {
    "PSK-STUCK-0001": ("stuck", 1),
    "PSK-OK-0001": ("consistent", 0),
    "PSK-FAILED-0001": ("consistent", 0),
    "PSK-ABANDONED-0001": ("not_paid", 1),
    "PSK-AMOUNT-0001": ("amount_mismatch", 1),
    "PSK-GHOST-0001": ("unknown_to_paystack", 1),
    "PSK-ORPHAN-0001": ("unknown_to_database", 1),
    "PSK-CURRENCY-0001": ("currency_mismatch", 1),
    "PSK-PENDING-0001": ("in_progress", 0),
}


@pytest.mark.parametrize(("reference", "expected"), EXPECTED.items())
def test_sandbox_human_and_json(proaudit, reference: str, expected: tuple[str, int]) -> None:
    diagnosis, code = expected
    human = proaudit("payments", "verify", reference)
    assert human.exit_code == code, human.stdout + human.stderr
    assert f"{diagnosis}:" in human.stdout
    assert "sandbox mode" in human.stderr
    ran = proaudit("--json", "payments", "verify", reference)
    assert ran.exit_code == code
    envelope = ran.json()
    assert envelope["version"] == 1
    assert envelope["command"] == "payments verify"
    assert envelope["exit_code"] == code
    assert envelope["status"] == ("ok" if code == 0 else "finding")
    assert envelope["data"]["diagnosis"] == diagnosis
    assert envelope["errors"] == []


def test_side_by_side_fields(proaudit) -> None:
    data = proaudit("--json", "payments", "verify", "PSK-STUCK-0001").json()["data"]
    assert data["database"]["status"] == "pending"
    assert data["paystack"]["status"] == "success"
    assert data["paystack"]["amount"] == {
        "subunits": 15000000,
        "currency": "NGN",
        "formatted": "₦150,000.00",
    }
    assert data["paystack"]["paid_at"].endswith("Z")
    assert data["fixable"] is True
    human = proaudit("payments", "verify", "PSK-STUCK-0001").stdout
    for field in (
        "status",
        "amount",
        "currency",
        "paid_at",
        "gateway_response",
        "channel",
        "₦150,000.00",
    ):
        assert field in human


@pytest.mark.parametrize("bad", ["bad ref!", "x" * 101, "ref/../../etc", "", "PSK STUCK"])
def test_malformed_reference_is_exit_2(proaudit, bad: str) -> None:
    ran = proaudit("--json", "payments", "verify", bad)
    assert ran.exit_code == 2
    assert ran.json()["errors"][0]["code"] == "usage"
    assert ran.stderr.splitlines()[-1].startswith("error: ") and "reference" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_verify_is_read_only(proaudit) -> None:
    before = proaudit("--json", "payments", "show", "PSK-STUCK-0001").json()["data"]["payment"]
    for _ in range(2):
        proaudit("payments", "verify", "PSK-STUCK-0001")
    after = proaudit("--json", "payments", "show", "PSK-STUCK-0001").json()["data"]["payment"]
    assert before == after
    assert proaudit("--json", "audit", "log").json()["data"]["records"] == []


def test_paystack_faults_are_exit_3_with_the_message(proaudit) -> None:
    env = {"PROAUDIT_SIM_ERROR_RATE": "1", "PAYSTACK_MAX_RETRIES": "1"}
    ran = proaudit("--json", "payments", "verify", "PSK-OK-0001", env=env)
    assert ran.exit_code == 3
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 2  # the sandbox notice + one error line
    assert ran.json()["status"] == "unavailable"


def test_database_unreachable_is_exit_3_without_password(proaudit) -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres:Sup3rS3cret@127.0.0.1:1/billing",
        "PROAUDIT_PAYSTACK_SIMULATOR": "true",
    }
    ran = proaudit("payments", "verify", "PSK-OK-0001", env=env)
    assert ran.exit_code == 3
    assert "Sup3rS3cret" not in ran.stdout + ran.stderr
    assert "cannot reach the database" in ran.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(("reference", "expected"), EXPECTED.items())
def test_postgres(pg_proaudit, reference: str, expected: tuple[str, int]) -> None:
    diagnosis, code = expected
    ran = pg_proaudit("--json", "payments", "verify", reference)
    assert ran.exit_code == code, ran.stderr
    assert ran.json()["data"]["diagnosis"] == diagnosis
    assert "sandbox mode" not in ran.stderr
