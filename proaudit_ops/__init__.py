"""proaudit: the billing incident runbook as safe, audited commands."""

__version__ = "0.1.0"
