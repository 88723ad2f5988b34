"""The one HTTP function, the one error type, and the Transport class every kind derives from.

Secrets never leave this package in a message: `requests` puts the URL (and so a webhook's
token) into its exception texts, so every error is rebuilt from scratch and redacted, the
channel's own secrets included.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from django.conf import settings

from heartbeats.alerts.messages import Message
from heartbeats.alerts.routing import Target
from heartbeats.models import Alert
from heartbeats.redaction import redact, with_url_parts

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
    payload: dict | bytes,
    *,
    service: str,
    headers: dict | None = None,
    timeout: Timeouts | None = None,
) -> requests.Response:
    """The one HTTP function: POST JSON (a dict, or its exact bytes when they are signed) with
    timeouts (connect, read; the settings' unless given); a request that gets no answer raises
    DeliveryError, any answer is returned."""
    import requests  # here, not at the top: ~60 ms that every command start-up would pay

    timeout = timeout or (settings.ALERT_CONNECT_TIMEOUT, settings.ALERT_READ_TIMEOUT)
    headers = dict(headers or {})
    try:
        if isinstance(payload, bytes):
            headers.setdefault("Content-Type", "application/json")
            return requests.post(url, data=payload, headers=headers, timeout=timeout)
        return requests.post(url, json=payload, headers=headers, timeout=timeout)
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


def _strip_secrets(text: str, target: Target) -> str:
    """A channel's own secrets out of `text` (a service may echo its key back)."""
    values: list[str] = []
    for value in target.secrets.values():
        for secret in value.values() if isinstance(value, dict) else [str(value)]:
            # A header's token alone too ("Bearer <token>"); long words only.
            values += [secret, *(word for word in secret.split() if len(word) >= 8)]
    for value in with_url_parts(values):
        text = text.replace(value, "[redacted]")
    return text


@dataclass(frozen=True)
class Outgoing:
    """One message to send: its text, and the alerts it is about (one, or a digest's)."""

    message: Message
    alerts: Sequence[Alert]


class Transport(ABC):
    """A channel kind: `send` posts a message and raises what `classify` makes of the answer."""

    kind: str
    # Whether several alerts may go as one digest message (not to an incident tool).
    digests = True

    @abstractmethod
    def send(
        self,
        target: Target,
        outgoing: Outgoing,
        *,
        idempotency_key: str,
        timeout: Timeouts | None = None,
    ) -> None:
        """Deliver `outgoing` on `target`; raises DeliveryError only."""

    def classify(self, response: requests.Response, target: Target) -> DeliveryError | None:
        """None: sent. Otherwise the error in the service's own words, temporary (retried)
        or permanent (ours to fix: the key, the sender, the webhook or the payload)."""
        code = response.status_code
        if code < 400:
            return None
        reason = _strip_secrets(_service_reason(response), target)
        text = f"HTTP {code}" + (f" ({reason})" if reason else "")
        if code in TEMPORARY_STATUS or code >= 500:
            return DeliveryError(text, service=target.name, retry_after=_retry_after(response))
        return DeliveryError(text, service=target.name, permanent=True)

    def _post(
        self,
        target: Target,
        url: str,
        payload: dict | bytes,
        *,
        headers: dict | None = None,
        timeout: Timeouts | None,
    ) -> None:
        if target.unreadable:
            raise DeliveryError(target.unreadable, service=target.name, permanent=True)
        if not url:
            raise DeliveryError("no URL is set", service=target.name, permanent=True)
        response = post_json(url, payload, service=target.name, headers=headers, timeout=timeout)
        error = self.classify(response, target)
        if error is not None:
            raise error
