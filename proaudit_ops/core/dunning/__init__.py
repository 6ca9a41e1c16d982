"""Dunning: failed renewals retried through the intent protocol (runbook: Dunning/Collection Issues)."""
