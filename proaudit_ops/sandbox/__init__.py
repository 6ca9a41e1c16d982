"""The sandbox: a stateful Paystack simulator with fault injection, the seeded demo tenants,
the billing app's webhook endpoint, and a loopback HTTP server for them (DESIGN.md).

The public names below are importable from the package; they load on first use (PEP 562), so
`import proaudit_ops.sandbox.dataset` stays cheap.

- home: `ensure_sandbox(db_path) -> Engine`, `reset_sandbox(db_path) -> SandboxSummary`
- transport: `simulator_transport(engine, faults)`, `app_transport(engine, secret_key, faults)`
- dataset / seed: `SEEDED_REFERENCES`, `SANDBOX_SECRET_KEY`, `seed_billing`, `seed_simulator`
- faults: `FaultConfig`, `AppFaultConfig`, `script_fault` (the next N requests fail)
- simulator / billing_app: `Simulator`, `BillingApp` (WSGI apps)
- serve: `serve(...)`, `start_background_server(...)`
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proaudit_ops.lazy import lazy_exports

if TYPE_CHECKING:
    from proaudit_ops.sandbox.billing_app import BillingApp
    from proaudit_ops.sandbox.dataset import (
        ORG_IDS,
        SANDBOX_PUBLIC_KEY,
        SANDBOX_SECRET_KEY,
        SEEDED_REFERENCES,
    )
    from proaudit_ops.sandbox.faults import (
        AppFaultConfig,
        FaultConfig,
        FaultKind,
        clear_scripted_faults,
        script_fault,
    )
    from proaudit_ops.sandbox.home import (
        SandboxSummary,
        ensure_sandbox,
        reset_sandbox,
        sandbox_summary,
    )
    from proaudit_ops.sandbox.seed import seed_billing, seed_simulator
    from proaudit_ops.sandbox.serve import serve, start_background_server
    from proaudit_ops.sandbox.simulator import Simulator
    from proaudit_ops.sandbox.state import create_sim_schema, sim_metadata
    from proaudit_ops.sandbox.transport import app_transport, simulator_transport

_EXPORTS = {
    "BillingApp": "billing_app",
    "ORG_IDS": "dataset",
    "SANDBOX_PUBLIC_KEY": "dataset",
    "SANDBOX_SECRET_KEY": "dataset",
    "SEEDED_REFERENCES": "dataset",
    "AppFaultConfig": "faults",
    "FaultConfig": "faults",
    "FaultKind": "faults",
    "clear_scripted_faults": "faults",
    "script_fault": "faults",
    "SandboxSummary": "home",
    "ensure_sandbox": "home",
    "reset_sandbox": "home",
    "sandbox_summary": "home",
    "seed_billing": "seed",
    "seed_simulator": "seed",
    "serve": "serve",
    "start_background_server": "serve",
    "Simulator": "simulator",
    "create_sim_schema": "state",
    "sim_metadata": "state",
    "app_transport": "transport",
    "simulator_transport": "transport",
}

__all__ = [
    "ORG_IDS",
    "SANDBOX_PUBLIC_KEY",
    "SANDBOX_SECRET_KEY",
    "SEEDED_REFERENCES",
    "AppFaultConfig",
    "BillingApp",
    "FaultConfig",
    "FaultKind",
    "SandboxSummary",
    "Simulator",
    "app_transport",
    "clear_scripted_faults",
    "create_sim_schema",
    "ensure_sandbox",
    "reset_sandbox",
    "sandbox_summary",
    "script_fault",
    "seed_billing",
    "seed_simulator",
    "serve",
    "sim_metadata",
    "simulator_transport",
    "start_background_server",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
