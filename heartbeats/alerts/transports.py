"""Slack and email (Resend) transports: one HTTP function, one error type, the test alert.

Secrets never leave this module in a message: `requests` puts the URL (and so the Slack
webhook token) into its exception texts, so every error is rebuilt from scratch and redacted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from django.conf import settings

from heartbeats.alerts.messages import Message, _when, format_notice
from heartbeats.domain.policy import configured_channels
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
    given), raise DeliveryError on any failure."""
    import requests  # here, not at the top: ~60 ms that every command start-up would pay

    timeout = timeout or (settings.ALERT_CONNECT_TIMEOUT, settings.ALERT_READ_TIMEOUT)
    try:
        response = requests.post(url, json=payload, headers=headers or {}, timeout=timeout)
    except requests.Timeout:
        raise DeliveryError("timed out", service=service) from None
    except requests.ConnectionError:
        raise DeliveryError("connection failed", service=service) from None
    except requests.RequestException as exc:
        reason = f"request failed ({type(exc).__name__})"
        raise DeliveryError(reason, service=service) from None
    if response.status_code >= 400:
        raise _http_error(service, response)
    return response


def _http_error(service: str, response: requests.Response) -> DeliveryError:
    """Classify an HTTP error by its status, keeping the service's own words about it."""
    code = response.status_code
    reason = _service_reason(response)
    message = f"HTTP {code}" + (f" ({reason})" if reason else "")
    if code in TEMPORARY_STATUS or code >= 500:
        return DeliveryError(message, service=service, retry_after=_retry_after(response))
    return DeliveryError(message, service=service, permanent=True)


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


def send_slack(message: Message, *, timeout: Timeouts | None = None) -> None:
    post_json(
        settings.SLACK_WEBHOOK_URL,
        {"text": message.slack_text, "blocks": message.blocks},
        service="slack",
        timeout=timeout,
    )


def send_email(message: Message, *, idempotency_key: str, timeout: Timeouts | None = None) -> None:
    post_json(
        f"{settings.RESEND_API_URL}/emails",
        {
            "from": settings.RESEND_FROM,
            "to": list(settings.ALERT_EMAIL_TO),
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        },
        service="email",
        headers={
            "Authorization": f"Bearer {settings.RESEND_API_KEY}",
            "Idempotency-Key": idempotency_key,
        },
        timeout=timeout,
    )


def send(
    channel: str, message: Message, *, idempotency_key: str, timeout: Timeouts | None = None
) -> None:
    """Deliver `message` on `channel`; raises DeliveryError only."""
    if channel == "slack":
        send_slack(message, timeout=timeout)
    elif channel == "email":
        send_email(message, idempotency_key=idempotency_key, timeout=timeout)
    else:
        raise DeliveryError("unknown channel", service=channel, permanent=True)


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
            send(channel, message, idempotency_key=f"cronmonitor-test-{now.isoformat()}-{channel}")
        except DeliveryError as exc:
            logger.warning("Test alert on %s failed: %s", channel, exc.reason)
            outcomes.append(ChannelOutcome(channel, False, exc.reason))
        else:
            outcomes.append(ChannelOutcome(channel, True))
    return outcomes
