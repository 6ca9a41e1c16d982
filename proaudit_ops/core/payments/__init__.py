"""Payment operations: verify, fix, stuck, status, show."""
