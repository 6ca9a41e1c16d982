"""In-process httpx transports over the simulator and the billing app (no socket, no thread).

A simulated timeout or dropped response becomes `httpx.ReadTimeout`: the request reached the
server (a POST's side effect may have happened), the answer never came. The simulator object
is reachable as `transport.app` (e.g. `transport.app.inject("/refund", "drop")`).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import httpx
from sqlalchemy import Engine

from proaudit_ops.sandbox.billing_app import BillingApp
from proaudit_ops.sandbox.faults import AppFaultConfig, FaultConfig
from proaudit_ops.sandbox.simulator import Simulator
from proaudit_ops.sandbox.wsgi import DroppedResponse, SimulatedTimeout, WSGIApp

A = TypeVar("A", bound=WSGIApp)


class FaultTranslatingTransport(httpx.BaseTransport, Generic[A]):
    def __init__(self, app: A) -> None:
        self.app = app
        self._inner = httpx.WSGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._inner.handle_request(request)
        except SimulatedTimeout as exc:
            raise httpx.ReadTimeout(f"read timed out ({exc})", request=request) from None
        except DroppedResponse as exc:
            raise httpx.ReadTimeout(f"read timed out ({exc})", request=request) from None

    def close(self) -> None:
        self._inner.close()


def simulator_transport(
    state_engine: Engine, faults: FaultConfig | None = None
) -> FaultTranslatingTransport[Simulator]:
    """Paystack, in process: `httpx.Client(transport=simulator_transport(engine), base_url=...)`."""
    return FaultTranslatingTransport(Simulator(state_engine, faults))


def app_transport(
    billing_engine: Engine,
    secret_key: str,
    faults: AppFaultConfig | None = None,
    *,
    script_engine: Engine | None = None,
) -> FaultTranslatingTransport[BillingApp]:
    """The billing app's webhook endpoint and /health, in process (sandbox replays post here).

    `script_engine`: where scripted app faults (`sim_faults` rows) are read; None = none.
    """
    return FaultTranslatingTransport(BillingApp(billing_engine, secret_key, faults, script_engine=script_engine))
