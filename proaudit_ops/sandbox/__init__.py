"""The sandbox: a stateful Paystack simulator with fault injection, the seeded demo tenants,
the billing app's webhook endpoint, and a loopback HTTP server for them (DESIGN.md).

Import what you need from the modules (this package imports nothing, so it stays light):

- `sandbox.home`: `ensure_sandbox(db_path) -> Engine`, `reset_sandbox(db_path)`
- `sandbox.transport`: `simulator_transport(engine, faults)`,
  `app_transport(engine, secret_key, faults)`
- `sandbox.dataset`: `SEEDED_REFERENCES`, `SANDBOX_SECRET_KEY` (the data);
  `sandbox.seed`: `seed_billing`, `seed_simulator`
- `sandbox.faults`: `FaultConfig`, `AppFaultConfig`, `script_fault` (the next N requests fail)
- `sandbox.simulator.Simulator`, `sandbox.billing_app.BillingApp` (WSGI apps)
- `sandbox.serve`: `serve(...)`, `start_background_server(...)`
"""
