"""Webhook operations: sign, verify-signature, test, replay, retry-failed, gaps."""
