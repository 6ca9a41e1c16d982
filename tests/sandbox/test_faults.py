"""Fault injection: configuration, each random fault kind, determinism, scripted faults."""

from __future__ import annotations

import httpx
import pytest
from sandbox_helpers import paystack_client, wsgi_client
from sqlalchemy import Engine, func, select

from proaudit_ops.sandbox.faults import AppFaultConfig, FaultConfig, script_fault
from proaudit_ops.sandbox.simulator import Simulator
from proaudit_ops.sandbox.state import sim_refunds


def _refunds(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sim_refunds)).scalar() or 0)


# -- configuration -----------------------------------------------------------------------------


def test_from_env_reads_every_variable() -> None:
    env = {
        "PROAUDIT_SIM_LATENCY_MS": "50",
        "PROAUDIT_SIM_ERROR_RATE": "0.1",
        "PROAUDIT_SIM_RATE_LIMIT_RATE": "0.2",
        "PROAUDIT_SIM_RETRY_AFTER_S": "3",
        "PROAUDIT_SIM_TIMEOUT_RATE": "0.05",
        "PROAUDIT_SIM_DROP_RATE": "0.3",
        "PROAUDIT_SIM_MALFORMED_RATE": "0.01",
        "PROAUDIT_SIM_SEED": "42",
        "PROAUDIT_SIM_TIMEOUT_S": "2.5",
    }
    assert FaultConfig.from_env(env) == FaultConfig(
        latency_ms=50,
        error_rate=0.1,
        rate_limit_rate=0.2,
        retry_after_s=3,
        timeout_rate=0.05,
        timeout_s=2.5,
        drop_after_effect_rate=0.3,
        malformed_rate=0.01,
        seed=42,
    )
    assert FaultConfig.from_env({}) == FaultConfig()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROAUDIT_SIM_ERROR_RATE", "1.5"),
        ("PROAUDIT_SIM_ERROR_RATE", "lots"),
        ("PROAUDIT_SIM_LATENCY_MS", "-1"),
        ("PROAUDIT_SIM_LATENCY_MS", "fast"),
        ("PROAUDIT_SIM_SEED", "x"),
        ("PROAUDIT_SIM_TIMEOUT_S", "0"),
    ],
)
def test_from_env_rejects_bad_values_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        FaultConfig.from_env({name: value})


def test_app_fault_config_from_env() -> None:
    config = AppFaultConfig.from_env(
        {
            "PROAUDIT_APP_STATUS": "500",
            "PROAUDIT_APP_LATENCY_MS": "10",
            "PROAUDIT_APP_TIMEOUT_RATE": "0.5",
        }
    )
    assert config == AppFaultConfig(status=500, latency_ms=10, timeout_rate=0.5)
    with pytest.raises(ValueError, match="PROAUDIT_APP_STATUS"):
        AppFaultConfig.from_env({"PROAUDIT_APP_STATUS": "200"})
    with pytest.raises(ValueError, match="error_rate"):
        FaultConfig(error_rate=-0.1)


# -- random faults, one kind at a time ---------------------------------------------------------


def test_error_rate_answers_500(engine: Engine) -> None:
    with paystack_client(engine, FaultConfig(error_rate=1.0)) as client:
        response = client.get("/transaction/verify/PSK-OK-0001")
    assert response.status_code == 500
    assert response.json()["status"] is False


def test_rate_limit_answers_429_with_retry_after(engine: Engine) -> None:
    with paystack_client(engine, FaultConfig(rate_limit_rate=1.0, retry_after_s=7)) as client:
        response = client.get("/transaction/verify/PSK-OK-0001")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["code"] == "rate_limited"
    assert response.json()["message"] == "Rate limit exceeded!"


def test_timeout_raises_read_timeout_and_does_nothing(engine: Engine) -> None:
    with (
        paystack_client(engine, FaultConfig(timeout_rate=1.0)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/refund", json={"transaction": "PSK-REFUND-0001"})
    assert _refunds(engine) == 3  # only the seeded ones


def test_drop_after_effect_does_the_refund_then_loses_the_answer(engine: Engine) -> None:
    with paystack_client(engine, FaultConfig(drop_after_effect_rate=1.0)) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/refund", json={"transaction": "PSK-REFUND-0001"})
        # GETs are never dropped: the operator can look the refund up
        txn = client.get("/transaction/verify/PSK-REFUND-0001").json()["data"]
        listed = client.get("/refund", params={"transaction": txn["id"]}).json()["data"]
    assert _refunds(engine) == 4
    assert txn["status"] == "reversed"
    assert len(listed) == 1


def test_malformed_answers_200_with_a_non_json_body(engine: Engine) -> None:
    with paystack_client(engine, FaultConfig(malformed_rate=1.0)) as client:
        response = client.get("/transaction/verify/PSK-OK-0001")
    assert response.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


def test_latency_sleeps_per_request(engine: Engine) -> None:
    slept: list[float] = []
    simulator = Simulator(engine, FaultConfig(latency_ms=250), sleep=slept.append)
    with wsgi_client(simulator) as client:
        assert client.get("/transaction/verify/PSK-OK-0001").status_code == 200
        assert client.get("/transaction/verify/PSK-OK-0001").status_code == 200
    assert slept == [0.25, 0.25]


def test_a_seed_makes_random_faults_repeatable(engine: Engine) -> None:
    def statuses() -> list[int]:
        with paystack_client(engine, FaultConfig(error_rate=0.5, seed=7)) as client:
            return [client.get("/transaction/verify/PSK-OK-0001").status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 500}


# -- scripted faults ---------------------------------------------------------------------------


def test_the_next_n_requests_to_a_path_fail(engine: Engine, paystack: httpx.Client) -> None:
    script_fault(engine, "/transaction/verify/PSK-OK-0001", "error", count=2, status=503)
    other = paystack.get("/transaction/verify/PSK-REFUND-0001")
    assert other.status_code == 200  # another path is not affected
    codes = [paystack.get("/transaction/verify/PSK-OK-0001").status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_scripted_faults_match_method_and_prefix(engine: Engine, paystack: httpx.Client) -> None:
    script_fault(engine, "/refund*", "drop", method="POST")
    assert paystack.get("/refund").status_code == 200  # GET does not match
    with pytest.raises(httpx.ReadTimeout):
        paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": 100})
    assert _refunds(engine) == 4  # the side effect happened
    assert paystack.post("/refund", json={"transaction": "PSK-REFUND-0001", "amount": 100}).status_code == 200


def test_simulator_inject_and_clear(engine: Engine) -> None:
    simulator = Simulator(engine)
    simulator.inject("/transaction/verify/*", "rate_limit", count=5)
    with wsgi_client(simulator) as client:
        assert client.get("/transaction/verify/PSK-OK-0001").status_code == 429
        assert simulator.clear_faults() == 1
        assert client.get("/transaction/verify/PSK-OK-0001").status_code == 200
    with pytest.raises(ValueError, match="count"):
        simulator.inject("/refund", "error", count=0)
    with pytest.raises(ValueError, match="not a valid FaultKind"):
        simulator.inject("/refund", "explode")
