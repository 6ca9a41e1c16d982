"""The protocols that compose the adapters: the change guard, saved plans, the approval gate.

They sit above `db/` (schema, engines), `audit/` and `paystack/`, and below `core/`: imports go
commands -> core -> protocols -> adapters. The intent protocol for refunds and charges lives here too.
"""
