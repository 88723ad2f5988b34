"""The durable side of delivery: claiming deliveries under a lease, recording one message's
result, and closing the alerts that no channel is still pending on.

A delivery is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises
writers) plus a lease, in a short transaction, so no two checkers send the same record and no
transaction stays open while a webhook is slow. Each message's result and the closing of the
alerts it settles are one transaction, committed right after that message is sent and only
where our lease still holds: a crash can then repeat at most the message in flight, and can
never leave an alert open with nothing left to send (which would block its job's next alert).
`close_settled` heals such an alert left by older code. Imports only models and the error type.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from heartbeats.alerts.transports import DeliveryError
from heartbeats.models import (
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    AlertKind,
    ChannelStatus,
    DeliveryState,
    JobHeartbeat,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _Settling(TypedDict):
        is_pending: bool
        last_sent_at: datetime | None

    SettledAlert = WithAnnotations[Alert, _Settling]  # as `close_settled` returns it

# Deliveries leased at once. Large, so that a storm on one channel becomes one digest; tests
# shrink it to make several checkers share the work.
CLAIM_BATCH = 10_000


def lease_length() -> timedelta:
    return timedelta(seconds=settings.ALERT_DELIVERY_LEASE_SECONDS)


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


def claim(*, now: datetime) -> tuple[list[AlertDelivery], datetime]:
    """Take a lease on due pending deliveries that no other checker holds.

    The lease runs from the moment of claiming (not the run's start), and the caller renews
    it while it works, so a slow batch is never taken over and sent twice.
    """
    claimed_at = timezone.now()
    lease_until = claimed_at + lease_length()
    due = AlertDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=claimed_at),
        state=DeliveryState.PENDING,
        next_attempt_at__lte=now,
    ).order_by("created_at", "id")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:CLAIM_BATCH])
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


def renew(ids: list[int], lease_until: datetime) -> datetime:
    """Extend our lease once half of it is used (compare-and-swap: only where still ours)."""
    if timezone.now() < lease_until - lease_length() / 2:
        return lease_until
    renewed = timezone.now() + lease_length()
    AlertDelivery.objects.filter(id__in=ids, lease_until=lease_until).update(lease_until=renewed)
    return renewed


def release(deliveries: Iterable[AlertDelivery], lease_until: datetime) -> None:
    """Hand back deliveries claimed but not tried (out of time): due again, attempt uncounted."""
    AlertDelivery.objects.filter(id__in=[d.id for d in deliveries], lease_until=lease_until).update(
        lease_until=None, attempts=F("attempts") - 1
    )


def record_message(
    group: list[AlertDelivery],
    error: DeliveryError | None,
    *,
    now: datetime,
    lease_until: datetime,
    channel_broken: bool | None,
) -> list[SettledAlert]:
    """One message's result, the channel's state when it changed (`channel_broken` None: not
    to be written) and the closing of the alerts it settles, in one transaction; returns the
    alerts of the message with their state (see `close_settled`)."""
    mine = AlertDelivery.objects.filter(id__in=[d.id for d in group], lease_until=lease_until)
    alert_ids = {d.alert_id for d in group}
    with transaction.atomic():
        if connection.features.has_select_for_update:
            # Two checkers recording the last two channels of one alert take turns here, so
            # the second one sees the first's result and closes the alert.
            locked = Alert.objects.select_for_update().filter(id__in=alert_ids).order_by("id")
            list(locked.values_list("id", flat=True))
        if error is None:
            mine.update(
                state=DeliveryState.SENT, sent_at=now, lease_until=None, last_error="",
                updated_at=now,
            )  # fmt: skip
        else:
            _record_error(mine, group, error, now=now)
        if channel_broken is not None:
            _record_channel(group[0].channel, error, broken=channel_broken, now=now)
        return close_settled(alert_ids=alert_ids)


def _record_error(
    mine: QuerySet[AlertDelivery],
    group: list[AlertDelivery],
    error: DeliveryError,
    *,
    now: datetime,
) -> None:
    """Give up on a permanent error or at ALERT_MAX_ATTEMPTS; else retry after a backoff that
    doubles per attempt (2, 4, 8 ... minutes, at most an hour), or the service's Retry-After."""
    by_attempts: dict[int, list[int]] = defaultdict(list)
    for delivery in group:
        final = error.permanent or delivery.attempts >= settings.ALERT_MAX_ATTEMPTS
        by_attempts[-1 if final else delivery.attempts].append(delivery.id)
    for attempts, ids in by_attempts.items():
        if attempts < 0:
            mine.filter(id__in=ids).update(
                state=DeliveryState.FAILED, lease_until=None, last_error=str(error),
                updated_at=now,
            )  # fmt: skip
            continue
        wait = max(
            timedelta(minutes=min(2**attempts, 60)), timedelta(seconds=error.retry_after or 0)
        )
        mine.filter(id__in=ids).update(
            next_attempt_at=now + wait, lease_until=None, last_error=str(error), updated_at=now
        )


def _record_channel(
    channel: str, error: DeliveryError | None, *, broken: bool, now: datetime
) -> None:
    """Mark a channel broken on a permanent error, healthy again on a success."""
    if broken:
        ChannelStatus.objects.update_or_create(
            channel=channel, defaults={"broken_since": now, "last_error": str(error)}
        )
    else:
        ChannelStatus.objects.filter(channel=channel, broken_since__isnull=False).update(
            broken_since=None, last_error=""
        )


def close_settled(*, alert_ids: set[uuid.UUID] | None = None) -> list[SettledAlert]:
    """Close the open alerts (all of them, or those of `alert_ids`) that no delivery is pending
    on; a problem alert that reached a channel marks its job alerted, as of its last sending.

    Returns the alerts looked at, annotated with `is_pending` and `last_sent_at`.
    """
    deliveries = AlertDelivery.objects.filter(alert=OuterRef("pk"))
    alerts = Alert.objects.annotate(
        is_pending=Exists(deliveries.filter(state=DeliveryState.PENDING)),
        last_sent_at=Subquery(
            deliveries.filter(state=DeliveryState.SENT).order_by("-sent_at").values("sent_at")[:1]
        ),
    )
    if alert_ids is None:
        alerts = alerts.filter(done=False, is_pending=False)
    else:
        alerts = alerts.filter(id__in=alert_ids)
    rows = list(alerts.order_by())
    settled = [a for a in rows if not a.done and not a.is_pending]
    if settled:
        Alert.objects.filter(id__in=[a.id for a in settled]).update(done=True)
    marks: dict[datetime, list[str]] = defaultdict(list)
    for alert in settled:
        if alert.last_sent_at is not None and alert.kind in PROBLEM_KINDS and alert.job_id:
            marks[alert.last_sent_at].append(alert.job_id)
    for sent_at, names in marks.items():
        JobHeartbeat.objects.filter(job_name__in=names).update(last_alert_at=sent_at, alerted=True)
    return rows


def waiting_retries(*, now: datetime) -> tuple[int, datetime | None]:
    """Deliveries waiting for a retry that is not due yet, and the next attempt: so a re-run
    right after fixing a channel does not look as if nothing were left to send. Deliveries
    another checker is sending right now are due, so they are not counted."""
    waiting = AlertDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__gt=now)
    row = waiting.aggregate(count=Count("id"), next_attempt_at=Min("next_attempt_at"))
    return row["count"], row["next_attempt_at"]
