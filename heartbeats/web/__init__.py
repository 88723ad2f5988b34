"""The public HTTP side: pings, the summary page and its JSON, /metrics, /healthz, the
database-unavailable answer and the middleware.

An interface: may import `alerts`, `signals`, `reporting`, `domain` and the base, not `admin`
or `ops`.
"""
