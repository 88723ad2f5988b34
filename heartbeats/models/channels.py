"""Alert channels kept in the database: where alerts go, with their secrets encrypted.

The channels set in the environment (SLACK_WEBHOOK_URL, RESEND_*, ALERT_EMAIL_TO) are not rows:
`alerts.routing` adds them as read-only default channels, keyed "slack" and "email", so a
delivery's `channel` is either that word or a row's id (see AlertDelivery).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from heartbeats.models import channel_secrets

# The keys (and names) of the channels from the environment.
ENV_SLACK = "slack"
ENV_EMAIL = "email"
ENV_CHANNELS = (ENV_SLACK, ENV_EMAIL)


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    PAGERDUTY = "pagerduty", "PagerDuty"
    MSTEAMS = "msteams", "Microsoft Teams"


# The secrets each kind takes (write-only in the admin, encrypted here); the rest is `config`.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    ChannelKind.SLACK: ("url",),
    ChannelKind.EMAIL: (),
    ChannelKind.WEBHOOK: ("url", "headers", "signing_secret"),
    ChannelKind.PAGERDUTY: ("routing_key",),
    ChannelKind.MSTEAMS: ("url",),
}


class Channel(models.Model):
    """One alert channel: its kind, non-secret `config` and encrypted secrets, what it
    notifies of, and which jobs it serves (named by them, by `tags`, or as a default)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    notify_down = models.BooleanField("notify on problems", default=True)
    notify_up = models.BooleanField("notify on recoveries", default=True)
    is_default = models.BooleanField(
        "default", default=False, help_text="Used by jobs that name no channel and match no tag."
    )
    tags = models.CharField(
        max_length=500, blank=True, default="",
        help_text="Jobs carrying any of these space-separated tags alert here.",
    )  # fmt: skip
    # Non-secret settings, e.g. {"recipients": [...]} for email.
    config = models.JSONField(default=dict, blank=True)
    secrets_token = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        """What AlertDelivery.channel and ChannelStatus.channel hold for this channel."""
        return str(self.id)

    def read_secrets(self) -> dict:
        return channel_secrets.decrypt(self.secrets_token)

    def set_secrets(self, secrets: dict) -> None:
        self.secrets_token = channel_secrets.encrypt({k: v for k, v in secrets.items() if v})
