"""Alerts: decide which jobs need one, record it, deliver it.

Owns a check run (one checker pass: decision, outage detection, recoveries, its result),
incidents and silences, the outbox and delivery (retries, digest, channel health), message
content (templates/alerts/, Slack blocks), routing (which channels each alert goes to) and the
transports (Slack, email, Teams, webhook, PagerDuty). May import
`signals`, `reporting`, `domain` and the base.
"""
