"""Delivering alert records: claim, send, record, each step safe with many checkers at once.

A delivery is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises
writers) plus a lease, in a short transaction, so no two checkers send the same record and no
transaction stays open while a webhook is slow. A checker that dies mid-send leaves its lease
to expire; the next run sends the record then (at least once; Resend's Idempotency-Key makes
email exactly once).
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
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.utils import timezone

from heartbeats import alert_content, notifiers
from heartbeats.config import configured_channels
from heartbeats.models import (
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    AlertKind,
    ChannelStatus,
    DeliveryState,
    JobHeartbeat,
)

logger = logging.getLogger(__name__)

# Documented rates: Slack about one message per second per webhook, Resend 2 requests/second.
CHANNEL_INTERVAL = {"slack": 1.0, "email": 0.5}
CLAIM_BATCH = 10_000


@dataclass
class DeliveryReport:
    sent: list[Alert] = field(default_factory=list)
    failed: list[Alert] = field(default_factory=list)
    pending: list[Alert] = field(default_factory=list)
    expired: int = 0
    errors: list[str] = field(default_factory=list)


class Pacer:
    """Spaces requests per channel to its documented rate; `sleep` is injectable for tests."""

    def __init__(self, sleep: Callable[[float], None], enabled: bool) -> None:
        self._sleep = sleep
        self._enabled = enabled
        self._last: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        if not self._enabled:
            return
        last = self._last.get(channel)
        if last is not None:
            remaining = CHANNEL_INTERVAL.get(channel, 0) - (time.monotonic() - last)
            if remaining > 0:
                self._sleep(remaining)
        self._last[channel] = time.monotonic()


def expire_recovered(*, now: datetime) -> set[uuid.UUID]:
    """Drop news that is no longer true, never sent late: a pending problem alert for a job
    that succeeded since, and a pending "back up" notice for a job alerted again since.

    Returns the alerts touched, so the caller can close them.
    """
    later_problem = Alert.objects.filter(
        job=OuterRef("alert__job"),
        kind__in=PROBLEM_KINDS,
        created_at__gt=OuterRef("alert__created_at"),
    )
    recovered = Q(
        alert__kind__in=PROBLEM_KINDS,
        alert__job__last_run_at__gt=F("alert__created_at"),
        alert__job__last_outcome="success",
    )
    down_again = Q(alert__kind=AlertKind.RECOVERY) & Exists(later_problem)
    stale = AlertDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        recovered | down_again,
        state=DeliveryState.PENDING,
    )
    alert_ids = set(stale.values_list("alert_id", flat=True))
    if alert_ids:
        AlertDelivery.objects.filter(alert_id__in=alert_ids, state=DeliveryState.PENDING).update(
            state=DeliveryState.EXPIRED, updated_at=now, lease_until=None
        )
    return alert_ids


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.ALERT_DELIVERY_LEASE_SECONDS)


def claim(*, now: datetime, limit: int = CLAIM_BATCH) -> tuple[list[AlertDelivery], datetime]:
    """Take a lease on due pending deliveries that no other checker holds.

    The lease runs from the moment of claiming (not the run's start), and the caller renews
    it while it works, so a slow batch is never taken over and sent twice.
    """
    claimed_at = timezone.now()
    lease_until = claimed_at + _lease_length()
    due = AlertDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=claimed_at),
        state=DeliveryState.PENDING,
        next_attempt_at__lte=now,
    ).order_by("created_at", "id")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return [], lease_until
        AlertDelivery.objects.filter(id__in=ids).update(
            lease_until=lease_until, attempts=F("attempts") + 1, updated_at=claimed_at
        )
    deliveries = list(
        AlertDelivery.objects.filter(id__in=ids)
        .select_related("alert")
        .order_by("created_at", "id")
    )
    return deliveries, lease_until


def _renew(ids: list[int], lease_until: datetime) -> datetime:
    """Extend our lease on a batch once half of it is used (compare-and-swap: still ours)."""
    if timezone.now() < lease_until - _lease_length() / 2:
        return lease_until
    renewed = timezone.now() + _lease_length()
    AlertDelivery.objects.filter(id__in=ids, lease_until=lease_until).update(lease_until=renewed)
    return renewed


def _message_for(alerts: Sequence[Alert]) -> notifiers.Message:
    if len(alerts) == 1 and alerts[0].job_id is None:
        details = alerts[0].details
        return notifiers.format_notice(details.get("title", "cronmonitor"), details.get("body", ""))
    return alert_content.message(alerts)


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


def _groups(deliveries: list[AlertDelivery]) -> list[list[AlertDelivery]]:
    """One group per message. A digest being retried is regrouped as it was sent; other job
    alerts on a channel become one digest when there are more than the threshold."""
    by_channel: dict[str, list[AlertDelivery]] = defaultdict(list)
    for delivery in deliveries:
        by_channel[delivery.channel].append(delivery)
    groups: list[list[AlertDelivery]] = []
    for items in by_channel.values():
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


def backoff_seconds(attempt: int, *, jitter: float) -> float:
    """The pause before in-run retry `attempt + 1`: doubling, plus up to half again (jitter
    in 0..1) so checkers that failed together do not retry together."""
    return settings.ALERT_RETRY_BASE_SECONDS * 2**attempt * (1 + jitter / 2)


def longest_attempt_seconds() -> float:
    """An upper bound on one `_attempt`: every try timing out, and every pause as long as its
    backoff with full jitter plus the Retry-After cap."""
    retries = settings.ALERT_RETRIES_PER_RUN
    pauses = sum(backoff_seconds(k, jitter=1) for k in range(retries))
    return (
        pauses
        + retries * settings.ALERT_RETRY_AFTER_MAX_SECONDS
        + (retries + 1) * (settings.ALERT_CONNECT_TIMEOUT + settings.ALERT_READ_TIMEOUT)
    )


def _attempt(
    channel: str, message: notifiers.Message, key: str, *, sleep: Callable[[float], None]
) -> notifiers.DeliveryError | None:
    """Send with bounded in-run retries (exponential backoff, jitter, Retry-After)."""
    retries = settings.ALERT_RETRIES_PER_RUN
    error: notifiers.DeliveryError | None = None
    for attempt in range(retries + 1):
        try:
            notifiers.send(channel, message, idempotency_key=key)
            return None
        except notifiers.DeliveryError as exc:
            error = exc
            logger.warning("Delivery on %s failed (attempt %d): %s", channel, attempt + 1, exc)
        if error.permanent or attempt == retries:
            break
        wait = backoff_seconds(attempt, jitter=random.random())
        if error.retry_after is not None:
            if error.retry_after > settings.ALERT_RETRY_AFTER_MAX_SECONDS:
                break
            wait = max(wait, error.retry_after)
        sleep(wait)
    return error


def waiting_retries(*, now: datetime) -> tuple[int, datetime | None]:
    """Deliveries waiting for a retry that is not due yet, and the next attempt: so a re-run
    right after fixing a channel does not look as if nothing were left to send. Deliveries
    another checker is sending right now are due, so they are not counted."""
    waiting = AlertDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__gt=now)
    row = waiting.aggregate(count=Count("id"), next_attempt_at=Min("next_attempt_at"))
    return row["count"], row["next_attempt_at"]


def deliver_pending(
    *, now: datetime, sleep: Callable[[float], None] = time.sleep
) -> DeliveryReport:
    """Send every due pending delivery, then close the alerts whose channels all answered."""
    expired = expire_recovered(now=now)
    report = DeliveryReport(expired=len(expired))
    pacer = Pacer(sleep, settings.ALERT_THROTTLE)
    configured = set(configured_channels())
    touched: set[uuid.UUID] = set()
    errored: set[uuid.UUID] = set()
    failures: set[str] = set()
    while True:
        batch, lease_until = claim(now=now)
        if not batch:
            break
        outcomes: dict[str, list[int]] = defaultdict(list)
        errors: dict[int, notifiers.DeliveryError] = {}
        channel_errors: dict[str, notifiers.DeliveryError | None] = {}
        batch_ids = [d.id for d in batch]
        for group in _groups(batch):
            lease_until = _renew(batch_ids, lease_until)
            channel = group[0].channel
            if channel in configured:
                pacer.wait(channel)
                error = _attempt(
                    channel, _message_for([d.alert for d in group]), _idempotency_key(group),
                    sleep=sleep,
                )  # fmt: skip
            else:
                error = notifiers.DeliveryError(f"{channel}: no longer configured", permanent=True)
            for delivery in group:
                touched.add(delivery.alert_id)
                if error is None:
                    outcomes["sent"].append(delivery.id)
                elif error.permanent or delivery.attempts >= settings.ALERT_MAX_ATTEMPTS:
                    outcomes["failed"].append(delivery.id)
                    errors[delivery.id] = error
                else:
                    outcomes["retry"].append(delivery.id)
                    errors[delivery.id] = error
                if error is not None:
                    errored.add(delivery.alert_id)
                    failures.add(
                        _failure_text(
                            error, attempts=delivery.attempts, configured=channel in configured
                        )
                    )
            if channel in configured and (
                error is None or error.permanent or channel not in channel_errors
            ):
                channel_errors[channel] = error
        for channel, error in channel_errors.items():
            _record_channel(channel, error, now=now)
        _record(batch, outcomes, errors, now=now, lease_until=lease_until)
    report.errors.extend(sorted(failures))
    _close_alerts(touched | expired, errored, now=now, report=report, reported=touched)
    return report


def _failure_text(error: notifiers.DeliveryError, *, attempts: int, configured: bool) -> str:
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


def _record(
    batch: list[AlertDelivery],
    outcomes: dict[str, list[int]],
    errors: dict[int, notifiers.DeliveryError],
    *,
    now: datetime,
    lease_until: datetime,
) -> None:
    """Write the batch's results with one statement per outcome (plus one per error text),
    only where our lease still holds."""
    base = AlertDelivery.objects.filter(lease_until=lease_until)
    base.filter(id__in=outcomes["sent"]).update(
        state=DeliveryState.SENT, sent_at=now, lease_until=None, last_error="", updated_at=now
    )
    by_error: dict[tuple[str, str], list[int]] = defaultdict(list)
    for key in ("failed", "retry"):
        for delivery_id in outcomes[key]:
            by_error[(key, str(errors[delivery_id]))].append(delivery_id)
    attempts = {d.id: d.attempts for d in batch}
    for (key, text), ids in by_error.items():
        if key == "failed":
            base.filter(id__in=ids).update(
                state=DeliveryState.FAILED, lease_until=None, last_error=text, updated_at=now
            )
        else:
            backoff = timedelta(minutes=min(2 ** max(attempts[i] for i in ids), 60))
            retry_after = max((errors[i].retry_after or 0) for i in ids)
            base.filter(id__in=ids).update(
                next_attempt_at=now + max(backoff, timedelta(seconds=retry_after)),
                lease_until=None,
                last_error=text,
                updated_at=now,
            )


def _record_channel(channel: str, error: notifiers.DeliveryError | None, *, now: datetime) -> None:
    """Mark a channel broken on a permanent error, healthy again on a success."""
    if error is not None and error.permanent:
        ChannelStatus.objects.update_or_create(
            channel=channel, defaults={"broken_since": now, "last_error": str(error)}
        )
        logger.error("Channel %s is broken: %s", channel, error)
    elif error is None:
        ChannelStatus.objects.filter(channel=channel, broken_since__isnull=False).update(
            broken_since=None, last_error=""
        )


def _close_alerts(
    alert_ids: set[uuid.UUID],
    errored: set[uuid.UUID],
    *,
    now: datetime,
    report: DeliveryReport,
    reported: set[uuid.UUID],
) -> None:
    """An alert is done when no channel is pending; a delivered problem alert marks its job."""
    if not alert_ids:
        return
    alerts = list(
        Alert.objects.filter(id__in=alert_ids).annotate(
            n_pending=Count("deliveries", filter=Q(deliveries__state=DeliveryState.PENDING)),
            n_sent=Count("deliveries", filter=Q(deliveries__state=DeliveryState.SENT)),
        )
    )
    done = [a for a in alerts if a.n_pending == 0]
    Alert.objects.filter(id__in=[a.id for a in done]).update(done=True)
    delivered = [a.job_id for a in done if a.n_sent and a.kind in PROBLEM_KINDS]
    JobHeartbeat.objects.filter(job_name__in=delivered).update(last_alert_at=now, alerted=True)
    for alert in alerts:
        if alert.id not in reported:
            continue
        if alert.id in errored:
            report.failed.append(alert)
        elif alert.n_pending:
            report.pending.append(alert)
        elif alert.n_sent:
            report.sent.append(alert)


def send_test_alert(*, now: datetime) -> list[notifiers.ChannelOutcome]:
    """The runbook's "Check 2"; a channel that takes the test is no longer marked broken."""
    outcomes = notifiers.send_test_alert(now=now, channels=configured_channels())
    ChannelStatus.objects.filter(channel__in=[o.channel for o in outcomes if o.ok]).update(
        broken_since=None, last_error=""
    )
    return outcomes
