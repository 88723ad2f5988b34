"""The admin: the operators' job list, history, actions, filters, forms and the
configuration page. Django's autodiscovery imports this package, which registers the models.

An interface: may import `alerts`, `signals`, `reporting`, `domain` and the base, not `web` or
`ops`.
"""

from heartbeats.admin import (  # noqa: F401  (registers the ModelAdmins)
    alert_history,
    api_keys,
    channel_admin,
    maintenance,
    registration,
)
