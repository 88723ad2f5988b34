"""Transports of machine-readable events: a signed JSON webhook and PagerDuty's Events API v2.

Each sends one alert per request (never a digest), so a receiver sees every job's event and
PagerDuty opens one incident per job incident.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.conf import settings

from heartbeats.alerts.messages import JobAlert
from heartbeats.alerts.routing import Target
from heartbeats.alerts.transports.base import Outgoing, Timeouts, Transport
from heartbeats.domain.links import job_admin_url
from heartbeats.models import PROBLEM_KINDS, Alert, AlertKind, ChannelKind

SIGNATURE_HEADER = "X-Cronmonitor-Signature"
TIMESTAMP_HEADER = "X-Cronmonitor-Timestamp"
DELIVERY_HEADER = "X-Cronmonitor-Delivery"
PAGERDUTY_SEVERITY = {"down": "critical", "hung": "critical", "failed": "error"}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _alert_and_facts(outgoing: Outgoing) -> tuple[Alert | None, JobAlert | None]:
    alert = outgoing.alerts[0] if outgoing.alerts else None
    facts = outgoing.message.facts[0] if outgoing.message.facts else None
    return alert, facts


def event_document(outgoing: Outgoing) -> dict:
    """The webhook's JSON body (docs/alerts.md documents it)."""
    alert, facts = _alert_and_facts(outgoing)
    kind = alert.kind if alert is not None else AlertKind.TEST.value
    document: dict = {
        "event": kind,
        "alert_id": str(alert.id) if alert is not None else None,
        "created_at": _iso(alert.created_at) if alert is not None else None,
        "summary": outgoing.message.subject,
        "text": outgoing.message.text,
        "job": None,
    }
    if alert is not None and alert.job_id and facts is not None:
        document["job"] = {
            "name": alert.job_id,
            "uuid": facts.job_uuid or None,
            "state": "up" if kind == AlertKind.RECOVERY else "down",
            "due_at": _iso(facts.due_at),
            "last_run_at": _iso(facts.last_run_at),
            "exit_status": facts.exit_status,
            "output": facts.output_tail,
            "admin_url": job_admin_url(alert.job_id),
        }
    return document


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed by the secret, of `timestamp.body`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Webhook(Transport):
    kind = ChannelKind.WEBHOOK.value
    digests = False

    def send(
        self, target: Target, outgoing: Outgoing, *, idempotency_key: str,
        timeout: Timeouts | None = None,
    ) -> None:  # fmt: skip
        """POST the event; with a signing secret, signed over the timestamp and raw body."""
        body = json.dumps(event_document(outgoing), separators=(",", ":")).encode()
        headers = {str(k): str(v) for k, v in (target.secrets.get("headers") or {}).items()}
        headers.update({"Content-Type": "application/json", DELIVERY_HEADER: idempotency_key})
        secret = target.secrets.get("signing_secret")
        if secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
        self._post(target, target.secrets.get("url", ""), body, headers=headers, timeout=timeout)


def dedup_key(alert: Alert, facts: JobAlert | None) -> str:
    """One per job incident: every trigger of it (retries included) and its resolve share it."""
    incident = alert.details.get("incident_opened_at")
    if alert.job_id and incident:
        job = (facts.job_uuid if facts is not None else "") or alert.job_id
        return f"cronmonitor-{job}-{incident}"
    return f"cronmonitor-alert-{alert.id}"


def pagerduty_event(target: Target, outgoing: Outgoing, *, idempotency_key: str) -> dict:
    """An Events API v2 event: `resolve` for a recovery, else `trigger`."""
    alert, facts = _alert_and_facts(outgoing)
    routing_key = target.secrets.get("routing_key", "")
    if alert is not None and alert.kind == AlertKind.RECOVERY:
        return {"routing_key": routing_key, "event_action": "resolve",
                "dedup_key": dedup_key(alert, facts)}  # fmt: skip
    if alert is None:
        key, severity, source = idempotency_key, "info", "cronmonitor"
    else:
        key = dedup_key(alert, facts)
        severity = PAGERDUTY_SEVERITY.get(alert.kind, "warning")
        source = alert.job_id or "cronmonitor"
    event: dict = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": outgoing.message.subject[:1024],
            "source": source,
            "severity": severity,
            "custom_details": {"text": outgoing.message.text},
        },
        "client": "cronmonitor",
        "client_url": settings.SITE_URL,
    }
    if alert is not None:
        event["payload"]["timestamp"] = alert.created_at.isoformat()
        if alert.job_id and alert.kind in PROBLEM_KINDS:
            event["links"] = [{"href": job_admin_url(alert.job_id), "text": "The job"}]
    return event


class PagerDuty(Transport):
    kind = ChannelKind.PAGERDUTY.value
    digests = False

    def send(
        self, target: Target, outgoing: Outgoing, *, idempotency_key: str,
        timeout: Timeouts | None = None,
    ) -> None:  # fmt: skip
        """To PAGERDUTY_EVENTS_URL; PagerDuty answers 202 and deduplicates on `dedup_key`."""
        event = pagerduty_event(target, outgoing, idempotency_key=idempotency_key)
        self._post(target, settings.PAGERDUTY_EVENTS_URL, event, timeout=timeout)
