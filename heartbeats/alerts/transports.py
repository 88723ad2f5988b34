"""Transports: one class per channel kind (Slack, email through Resend), each sending through
the one HTTP function and classifying the answer the same way; one error type; the test alert.

Secrets never leave this module in a message: `requests` puts the URL (and so the Slack
webhook token) into its exception texts, so every error is rebuilt from scratch and redacted.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from django.conf import settings

from heartbeats.alerts.messages import Message, _when, format_notice
from heartbeats.domain.policy import configured_channels
from heartbeats.models import Channel
from heartbeats.redaction import redact

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

# Worth retrying: timeouts, "too early", rate limits (and every 5xx). Any other 4xx is ours
# to fix: the key, the sender, the webhook or the payload.
TEMPORARY_STATUS = {408, 425, 429}


class DeliveryError(Exception):
    """A channel did not accept a message. `permanent`: retrying cannot help.

    It reads "slack: HTTP 404 (no_service)"; `reason` is the part after the channel's name, for
    texts that name the channel themselves.
    """

    def __init__(
        self,
        reason: str,
        *,
        service: str,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.reason = redact(reason)
        super().__init__(f"{service}: {self.reason}")
        self.permanent = permanent
        self.retry_after = retry_after


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds())


Timeouts = tuple[float, float]


def post_json(
    url: str,
    payload: dict,
    *,
    service: str,
    headers: dict | None = None,
    timeout: Timeouts | None = None,
) -> requests.Response:
    """The one HTTP function: POST JSON with timeouts (connect, read; the settings' unless
    given); a request that gets no answer raises DeliveryError, any answer is returned."""
    import requests  # here, not at the top: ~60 ms that every command start-up would pay

    timeout = timeout or (settings.ALERT_CONNECT_TIMEOUT, settings.ALERT_READ_TIMEOUT)
    try:
        return requests.post(url, json=payload, headers=headers or {}, timeout=timeout)
    except requests.Timeout:
        raise DeliveryError("timed out", service=service) from None
    except requests.ConnectionError:
        raise DeliveryError("connection failed", service=service) from None
    except requests.RequestException as exc:
        reason = f"request failed ({type(exc).__name__})"
        raise DeliveryError(reason, service=service) from None


def _service_reason(response: requests.Response) -> str:
    """The error text a service put in its answer: Resend's JSON `message`, Slack's body
    (`invalid_payload`, `no_service` ...); its first line, at most 200 characters."""
    text = response.text.strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error") or text)
    return text.splitlines()[0][:200] if text else ""


class Transport(ABC):
    """A channel kind: `send` posts a message and raises what `classify` makes of the answer."""

    name: str

    @abstractmethod
    def send(
        self, message: Message, *, idempotency_key: str, timeout: Timeouts | None = None
    ) -> None:
        """Deliver `message`; raises DeliveryError only."""

    def classify(self, response: requests.Response) -> DeliveryError | None:
        """None: sent. Otherwise the error in the service's own words, temporary (retried)
        or permanent (ours to fix: the key, the sender, the webhook or the payload)."""
        code = response.status_code
        if code < 400:
            return None
        reason = _service_reason(response)
        text = f"HTTP {code}" + (f" ({reason})" if reason else "")
        if code in TEMPORARY_STATUS or code >= 500:
            return DeliveryError(text, service=self.name, retry_after=_retry_after(response))
        return DeliveryError(text, service=self.name, permanent=True)

    def _post(
        self, url: str, payload: dict, *, headers: dict | None = None, timeout: Timeouts | None
    ) -> None:
        response = post_json(url, payload, service=self.name, headers=headers, timeout=timeout)
        error = self.classify(response)
        if error is not None:
            raise error


class Slack(Transport):
    name = Channel.SLACK.value

    def send(
        self, message: Message, *, idempotency_key: str, timeout: Timeouts | None = None
    ) -> None:
        """Slack has no idempotency key: a retry after a lost answer may post twice."""
        payload = {"text": message.slack_text, "blocks": message.blocks}
        self._post(settings.SLACK_WEBHOOK_URL, payload, timeout=timeout)


class Email(Transport):
    name = Channel.EMAIL.value

    def send(
        self, message: Message, *, idempotency_key: str, timeout: Timeouts | None = None
    ) -> None:
        """Through Resend, which sends a message once per `idempotency_key`."""
        payload = {
            "from": settings.RESEND_FROM,
            "to": list(settings.ALERT_EMAIL_TO),
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        }
        headers = {
            "Authorization": f"Bearer {settings.RESEND_API_KEY}",
            "Idempotency-Key": idempotency_key,
        }
        self._post(f"{settings.RESEND_API_URL}/emails", payload, headers=headers, timeout=timeout)


# By channel name: the outbox and the test alert find a channel's transport here.
TRANSPORTS: dict[str, Transport] = {t.name: t for t in (Slack(), Email())}


@dataclass(frozen=True)
class ChannelOutcome:
    channel: str
    ok: bool
    error: str = ""  # what went wrong, without the channel's name


def send_test_alert(*, now: datetime) -> list[ChannelOutcome]:
    """The runbook's "Check 2": a clearly marked test message on every configured channel."""
    message = format_notice(
        "TEST alert from cronmonitor",
        f"This is a test sent at {_when(now)}. If you can read it, alerts reach this channel. "
        "No job is affected.",
    )
    outcomes = []
    for channel in configured_channels():
        try:
            key = f"cronmonitor-test-{now.isoformat()}-{channel}"
            TRANSPORTS[channel].send(message, idempotency_key=key)
        except DeliveryError as exc:
            logger.warning("Test alert on %s failed: %s", channel, exc.reason)
            outcomes.append(ChannelOutcome(channel, False, exc.reason))
        else:
            outcomes.append(ChannelOutcome(channel, True))
    return outcomes
