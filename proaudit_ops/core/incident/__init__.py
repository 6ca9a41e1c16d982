"""Incidents: open, note, acknowledge, close, page, and the post-incident report from the audit log."""
