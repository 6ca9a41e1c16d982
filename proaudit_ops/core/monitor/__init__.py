"""`monitor check` (the runbook's key metrics against its thresholds) and `monitor rules` (its alerts as a file)."""
