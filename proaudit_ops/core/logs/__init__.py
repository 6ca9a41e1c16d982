"""Log search: the runbook's grep steps over the app log, its rotations and the journal."""
