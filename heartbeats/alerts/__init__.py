"""Alerts: decide which jobs need one, record it, deliver it.

Owns a check run (one checker pass: decision, outage detection, recoveries, its result),
incidents and silences, the outbox and delivery (retries, digest, channel health), message
content (templates/alerts/, Slack blocks) and the transports (Slack, email). May import
`signals`, `reporting`, `domain` and the base.
"""
