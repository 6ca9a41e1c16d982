"""Recovery: health checks, maintenance mode, database failover (runbook: Recovery Procedures)."""
