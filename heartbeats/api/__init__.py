"""The management API, compatible with Healthchecks' v1, v2 and v3: API keys checked, checks
(jobs) listed, created, changed, paused, resumed and deleted, their pings, flips and badges,
and the OpenAPI description. See docs/api.md.

An interface: may import `access`, `alerts`, `signals`, `reporting`, `domain` and the base,
not `admin`, `web` or `ops`.
"""
