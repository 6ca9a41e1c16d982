"""Reconciliation: Paystack, the payments table and the webhook inbox, compared at scale (see run.py)."""
