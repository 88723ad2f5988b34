"""cronmonitor's Django app (label `heartbeats`): packages by capability.

Imports point down only (tests/test_layout.py holds it):
  interfaces   admin/, web/, api/, ops/, management/commands/, templatetags/
  alerts/      check runs, incidents, outbox, delivery, transports
  signals/     recording beats and pings, flips, the job's command, retention
  access/      API keys and the per-key rate limit
  reporting/   summary figures, Prometheus, the chart
  domain/      rules, schedules, durations, policy, checker health, queries (SQL twins)
  base         models/, job_count.py (the schema; migrations import both), redaction.py
"""
