"""Drills: scripted incidents on a fresh sandbox, scored from the audit log (`proaudit drill ...`)."""
