"""Subscriptions: one organization's `tenant_skus` row, what its payments bought, and guarded changes.

orgs.py resolves what the operator typed (UUID, exact name, payment reference); view.py reads
(`show`, `list`); coverage.py finds the payment that pays for an activation; changes.py builds
the plans (activate, convert-trial, extend, set-tier, cancel) and runs them through the guard.
The entitlement contract itself is core/entitlement.py.
"""
