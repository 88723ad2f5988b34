"""Sending alert records: group them into messages, format, send with bounded retries and
pacing, and hand each message's result to the outbox the moment it is known.

Deliveries are claimed and recorded by `outbox` (leases, one transaction per message): a
checker that dies mid-send leaves its lease to expire and the next run sends that one message
again (at least once; Resend's Idempotency-Key makes email exactly once). Anything a message
raises is recorded against its deliveries, so one bad message never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from heartbeats.alerts import content, messages, outbox, routing, transports
from heartbeats.alerts.retry_policy import backoff_seconds
from heartbeats.models import Alert, AlertDelivery

logger = logging.getLogger(__name__)

# Documented rates: Slack about one message per second per webhook, Resend 2 requests/second;
# Teams workflows, like Slack, throttle bursts. Webhooks and PagerDuty take bursts.
KIND_INTERVAL = {"slack": 1.0, "email": 0.5, "msteams": 1.0}
# With a deadline, no message is started with less time than this left.
MIN_SEND_SECONDS = 1.0


@dataclass
class DeliveryReport:
    sent: list[Alert] = field(default_factory=list)
    failed: list[Alert] = field(default_factory=list)
    pending: list[Alert] = field(default_factory=list)
    left_for_next_pass: int = 0  # deliveries not tried: the deadline came first
    errors: list[str] = field(default_factory=list)


class Pacer:
    """Spaces requests per channel to its documented rate; `sleep` is injectable for tests."""

    def __init__(self, sleep: Callable[[float], None], enabled: bool) -> None:
        self._sleep = sleep
        self._enabled = enabled
        self._last: dict[str, float] = {}

    def wait(self, channel: str, kind: str = "") -> None:
        """Before a request on `channel` (a key; `kind` when it is not the kind itself)."""
        kind = kind or channel
        if not self._enabled or kind not in KIND_INTERVAL:
            return
        last = self._last.get(channel)
        if last is not None:
            remaining = KIND_INTERVAL[kind] - (time.monotonic() - last)
            if remaining > 0:
                self._sleep(remaining)
        self._last[channel] = time.monotonic()


def _message_for(alerts: Sequence[Alert]) -> messages.Message:
    if len(alerts) == 1 and alerts[0].job_id is None:
        details = alerts[0].details
        return messages.format_notice(details["title"], details["body"])
    return content.message(alerts)


def _idempotency_key(deliveries: Sequence[AlertDelivery]) -> str:
    """One key per message, the same on every retry of it: Resend then sends it once.

    A digest's key follows from the deliveries in it, and is stored on them so that a retry
    regroups exactly them (see `_groups`): same digest, same key.
    """
    if len(deliveries) == 1:
        return f"cronmonitor-{deliveries[0].alert_id}-{deliveries[0].channel}"
    ids = ",".join(sorted(str(d.id) for d in deliveries))
    key = f"cronmonitor-digest-{hashlib.sha256(ids.encode()).hexdigest()[:40]}"
    if any(d.idempotency_key != key for d in deliveries):
        AlertDelivery.objects.filter(id__in=[d.id for d in deliveries]).update(idempotency_key=key)
    return key


def _groups(
    deliveries: list[AlertDelivery], targets: dict[str, routing.Target]
) -> list[list[AlertDelivery]]:
    """One group per message. A digest being retried is regrouped as it was sent; other job
    alerts on a channel become one digest when there are more than the threshold (on a kind
    that takes digests: never to a webhook or PagerDuty)."""
    by_channel: dict[str, list[AlertDelivery]] = defaultdict(list)
    for delivery in deliveries:
        by_channel[delivery.channel].append(delivery)
    groups: list[list[AlertDelivery]] = []
    for channel, items in by_channel.items():
        target = targets.get(channel)
        if target is not None and not transports.TRANSPORTS[target.kind].digests:
            groups.extend([d] for d in items)
            continue
        retried: dict[str, list[AlertDelivery]] = defaultdict(list)
        fresh: list[AlertDelivery] = []
        for d in items:
            if d.alert.job_id is None:
                groups.append([d])
            elif d.idempotency_key:
                retried[d.idempotency_key].append(d)
            else:
                fresh.append(d)
        groups.extend(retried.values())
        if len(fresh) > settings.ALERT_DIGEST_THRESHOLD:
            groups.append(fresh)
        else:
            groups.extend([d] for d in fresh)
    return groups


def _timeout(deadline: float | None) -> tuple[float, float] | None:
    """Connect and read timeouts that together end by `deadline` (None: the settings')."""
    if deadline is None:
        return None
    remaining = max(deadline - time.monotonic(), 0.1)
    connect = min(settings.ALERT_CONNECT_TIMEOUT, remaining / 2)
    return connect, min(settings.ALERT_READ_TIMEOUT, remaining - connect)


def _attempt(
    target: routing.Target,
    outgoing: transports.Outgoing,
    key: str,
    *,
    sleep: Callable[[float], None],
    deadline: float | None,
) -> transports.DeliveryError | None:
    """Send with bounded in-run retries (exponential backoff, jitter, Retry-After); none
    when a deadline bounds the run."""
    retries = settings.ALERT_RETRIES_PER_RUN if deadline is None else 0
    error: transports.DeliveryError
    for attempt in range(retries + 1):
        try:
            transports.TRANSPORTS[target.kind].send(
                target, outgoing, idempotency_key=key, timeout=_timeout(deadline)
            )
            return None
        except transports.DeliveryError as exc:
            error = exc
            logger.warning("Delivery on %s failed (attempt %d): %s", target.name, attempt + 1, exc)
        if error.permanent or attempt == retries:
            break
        wait = backoff_seconds(attempt, jitter=random.random())
        if error.retry_after is not None:
            if error.retry_after > settings.ALERT_RETRY_AFTER_MAX_SECONDS:
                break
            wait = max(wait, error.retry_after)
        sleep(wait)
    return error


class _Pass:
    """One delivery pass: sends message by message and records each as soon as it is sent."""

    def __init__(
        self, *, now: datetime, sleep: Callable[[float], None], deadline: float | None
    ) -> None:
        self.now = now
        self.sleep = sleep
        self.deadline = deadline
        self.pacer = Pacer(sleep, settings.ALERT_THROTTLE)
        self.configured = routing.load_targets()
        self.channel_broken: dict[str, bool] = {}  # as last written by this pass
        self.alerts: dict[uuid.UUID, outbox.SettledAlert] = {}  # each alert recorded, as last seen
        self.errored: set[uuid.UUID] = set()
        self.failures: set[str] = set()
        self.left: list[AlertDelivery] = []

    def out_of_time(self) -> bool:
        return self.deadline is not None and self.deadline - time.monotonic() < MIN_SEND_SECONDS

    def deliver(self, batch: list[AlertDelivery], lease_until: datetime) -> bool:
        """Send a claimed batch; False when the deadline stopped it (the rest is released)."""
        groups = _groups(batch, self.configured)
        ids = [d.id for d in batch]
        for index, group in enumerate(groups):
            channel = group[0].channel
            if channel in self.configured:
                self.pacer.wait(channel, self.configured[channel].kind)
            if self.out_of_time():
                self.left = [d for rest in groups[index:] for d in rest]
                outbox.release(self.left, lease_until)
                return False
            lease_until = outbox.renew(ids, lease_until)
            self._record(group, self._send(group), lease_until)
        return True

    def _send(self, group: list[AlertDelivery]) -> transports.DeliveryError | None:
        target = self.configured.get(group[0].channel)
        if target is None:
            service = group[0].channel
            return transports.DeliveryError("no longer configured", service=service, permanent=True)
        key = _idempotency_key(group)
        try:
            alerts = [d.alert for d in group]
            outgoing = transports.Outgoing(_message_for(alerts), alerts)
            return _attempt(target, outgoing, key, sleep=self.sleep, deadline=self.deadline)
        except Exception as exc:  # a bug in one message costs that message, not the pass
            error = transports.DeliveryError(
                f"unexpected error ({type(exc).__name__}: {str(exc)[:200]})", service=target.name
            )
            logger.error("Delivery on %s failed: %s", target.name, error)
            return error

    def _record(
        self,
        group: list[AlertDelivery],
        error: transports.DeliveryError | None,
        lease_until: datetime,
    ) -> None:
        channel = group[0].channel
        broken = None
        if channel in self.configured and (error is None or error.permanent):
            broken = error is not None
            if self.channel_broken.get(channel) == broken:
                broken = None  # already written by this pass
        alerts = outbox.record_message(
            group, error, now=self.now, lease_until=lease_until, channel_broken=broken
        )
        if broken is not None:
            self.channel_broken[channel] = broken
            if broken:
                logger.error("Channel %s is broken: %s", self.configured[channel].name, error)
        self.alerts.update((alert.id, alert) for alert in alerts)
        if error is not None:
            self.errored.update(d.alert_id for d in group)
            configured = channel in self.configured
            self.failures.update(
                _failure_text(error, attempts=d.attempts, configured=configured) for d in group
            )

    def report(self) -> DeliveryReport:
        report = DeliveryReport(left_for_next_pass=len(self.left))
        report.errors.extend(sorted(self.failures))
        for alert in self.alerts.values():
            if alert.id in self.errored:
                report.failed.append(alert)
            elif alert.is_pending:
                report.pending.append(alert)
            elif alert.last_sent_at is not None:
                report.sent.append(alert)
        # Alerts the deadline left untried: still pending. An alert with an error this pass was
        # recorded (every recorded message returns all its alerts), so it is listed above.
        untried: dict[uuid.UUID, Alert] = {}
        for delivery in self.left:
            if delivery.alert_id not in self.alerts:
                untried.setdefault(delivery.alert_id, delivery.alert)
        report.pending.extend(untried.values())
        return report


def deliver_pending(
    *,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> DeliveryReport:
    """Send every due pending delivery, each message recorded (with the alerts it settles
    closed) as soon as it is sent. With a `deadline` (a `time.monotonic()` value) no message
    starts or waits past it; what is left stays pending for the next pass."""
    expired = outbox.expire_recovered(now=now)
    if expired:
        outbox.close_settled(alert_ids=expired)
    delivery_pass = _Pass(now=now, sleep=sleep, deadline=deadline)
    while True:
        batch, lease_until = outbox.claim(now=now)
        if not batch or not delivery_pass.deliver(batch, lease_until):
            break
    return delivery_pass.report()


def _failure_text(error: transports.DeliveryError, *, attempts: int, configured: bool) -> str:
    """The error and what happens to the delivery now, for the operator who reads it."""
    if error.permanent and configured:
        return (
            f"{error} - permanent, not retried: the channel is marked broken until its "
            "configuration is fixed and `manage.py send_test_alert` gets through"
        )
    if error.permanent:
        return f"{error} - permanent, not retried"
    if attempts >= settings.ALERT_MAX_ATTEMPTS:
        return f"{error} - temporary, but not retried: ALERT_MAX_ATTEMPTS reached"
    return f"{error} - temporary, retried on a later run"
