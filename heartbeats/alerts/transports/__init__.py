"""Transports: one class per channel kind (Slack, email through Resend, Microsoft Teams, a
signed webhook, PagerDuty), each sending through the one HTTP function and classifying the
answer the same way; one error type; the test alert.
"""

from __future__ import annotations

from heartbeats.alerts.transports.base import (
    DeliveryError,
    Outgoing,
    Timeouts,
    Transport,
    post_json,
)
from heartbeats.alerts.transports.chat import Email, MicrosoftTeams, Slack
from heartbeats.alerts.transports.events import PagerDuty, Webhook

__all__ = [
    "TRANSPORTS",
    "DeliveryError",
    "Outgoing",
    "Timeouts",
    "Transport",
    "post_json",
]

# By channel kind: the outbox and the test alert find a channel's transport here.
TRANSPORTS: dict[str, Transport] = {
    t.kind: t for t in (Slack(), Email(), MicrosoftTeams(), Webhook(), PagerDuty())
}
