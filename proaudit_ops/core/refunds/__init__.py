"""Refunds (runbook: Refund Processing): check eligibility, issue exactly once, resume, status, list.

Issuing goes through the intent protocol (protocols/intents.py): the refund kind is kind.py.
"""
