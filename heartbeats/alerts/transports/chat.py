"""Transports of messages people read: Slack, email through Resend, Microsoft Teams."""

from __future__ import annotations

from django.conf import settings

from heartbeats.alerts.routing import Target
from heartbeats.alerts.transports.base import DeliveryError, Outgoing, Timeouts, Transport
from heartbeats.domain.links import job_admin_url
from heartbeats.models import ChannelKind


class Slack(Transport):
    kind = ChannelKind.SLACK.value

    def send(
        self, target: Target, outgoing: Outgoing, *, idempotency_key: str,
        timeout: Timeouts | None = None,
    ) -> None:  # fmt: skip
        """Slack has no idempotency key: a retry after a lost answer may post twice."""
        message = outgoing.message
        payload = {"text": message.slack_text, "blocks": message.blocks}
        self._post(target, target.secrets.get("url", ""), payload, timeout=timeout)


class Email(Transport):
    kind = ChannelKind.EMAIL.value

    def send(
        self, target: Target, outgoing: Outgoing, *, idempotency_key: str,
        timeout: Timeouts | None = None,
    ) -> None:  # fmt: skip
        """Through Resend (RESEND_API_KEY, RESEND_FROM), which sends a message once per
        `idempotency_key`."""
        if not (settings.RESEND_API_KEY and settings.RESEND_FROM):
            reason = "RESEND_API_KEY and RESEND_FROM must be set for email channels"
            raise DeliveryError(reason, service=target.name, permanent=True)
        recipients = list(target.config.get("recipients") or [])
        if not recipients:
            raise DeliveryError("no recipients", service=target.name, permanent=True)
        message = outgoing.message
        payload = {
            "from": settings.RESEND_FROM,
            "to": recipients,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        }
        headers = {
            "Authorization": f"Bearer {settings.RESEND_API_KEY}",
            "Idempotency-Key": idempotency_key,
        }
        url = f"{settings.RESEND_API_URL}/emails"
        self._post(target, url, payload, headers=headers, timeout=timeout)


def adaptive_card(outgoing: Outgoing) -> dict:
    """A Teams Workflows message: one Adaptive Card (title, the text, a link to the job)."""
    message = outgoing.message
    body: list[dict] = [
        {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium",
         "wrap": True},
        {"type": "TextBlock", "text": message.text, "wrap": True},
    ]  # fmt: skip
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    jobs = [a.job_id for a in outgoing.alerts if a.job_id]
    if len(jobs) == 1:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the job", "url": job_admin_url(jobs[0])}
        ]
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


class MicrosoftTeams(Transport):
    kind = ChannelKind.MSTEAMS.value

    def send(
        self, target: Target, outgoing: Outgoing, *, idempotency_key: str,
        timeout: Timeouts | None = None,
    ) -> None:  # fmt: skip
        """A Workflows webhook ("Post to a channel when a webhook request is received")."""
        payload = adaptive_card(outgoing)
        self._post(target, target.secrets.get("url", ""), payload, timeout=timeout)
