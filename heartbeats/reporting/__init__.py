"""Reporting: read-only figures for the summary page, /summary.json and /metrics.

Owns the summary figures (aggregate queries whose cost does not grow with the data), the
Prometheus exposition and counters, and the daily alerts chart. Writes nothing but the pruned
totals retention hands it. May import `domain` and the base (`models`, `job_count`).
"""
