"""The Prometheus metric names this tool writes and its alert rules read: one place, one spelling.

`reconcile --metrics/--push` writes the reconcile ones, `monitor check --metrics` the monitor ones,
`monitor rules` alerts on all of them. Renaming one breaks the dashboards and alerts that read it:
add a new name rather than change one.
"""

from __future__ import annotations

# -- reconcile (issue 9, items 1-2) ----------------------------------------------------------------
RECONCILE_DRIFT_COUNT = "proaudit_reconcile_drift_count"  # gauge {category}: rows in the category
RECONCILE_DRIFT_AMOUNT = "proaudit_reconcile_drift_amount_subunits"  # gauge {category, currency}: kobo at stake
RECONCILE_LAST_SUCCESS = "proaudit_reconcile_last_success_timestamp_seconds"  # gauge: unix time of the last full run
RECONCILE_ROWS = "proaudit_reconcile_rows"  # gauge: Paystack rows staged (transactions and refunds)
RECONCILE_DURATION = "proaudit_reconcile_duration_seconds"  # gauge: how long the last run took
INTENTS_UNKNOWN = "proaudit_intents_unknown"  # gauge: refund/charge intents whose outcome is unknown

# -- monitor check ------------------------------------------------------------------------------------
# One gauge per key metric, written only when the window had data (an absent series is "no data").
MONITOR_PAYMENT_SUCCESS_RATIO = "proaudit_monitor_payment_success_ratio"  # 0..1
MONITOR_WEBHOOK_P95 = "proaudit_monitor_webhook_processing_p95_seconds"
MONITOR_WEBHOOK_FAILED_RATIO = "proaudit_monitor_webhook_failed_ratio"  # 0..1
MONITOR_DUNNING_CONVERSION_RATIO = "proaudit_monitor_dunning_conversion_ratio"  # 0..1
MONITOR_API_RESPONSE_P95 = "proaudit_monitor_api_response_p95_seconds"
# gauge {metric}: 0 ok (or no data), 1 warning, 2 critical, for every metric checked.
MONITOR_LEVEL = "proaudit_monitor_level"
MONITOR_LAST_RUN = "proaudit_monitor_last_run_timestamp_seconds"  # gauge: unix time of the check

# -- the billing app's own (the runbook's alert rules read them; the app exports them) -------------
APP_PAYMENT_TRANSACTIONS_TOTAL = "payment_transactions_total"  # counter {status}
APP_WEBHOOK_PROCESSING_BUCKET = "webhook_processing_seconds_bucket"  # histogram buckets {le}
