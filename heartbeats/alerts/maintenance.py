"""Maintenance windows on the sending side: problem alerts still waiting to be (re)sent for
jobs that a window now covers are dropped, as "Silence all alerts" drops them, so nothing goes
out inside a window and nothing stale goes out after it (a job still down then is alerted
afresh, with the anti-spam rules as usual)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from heartbeats.models import PROBLEM_KINDS, Alert, AlertDelivery, DeliveryState


def drop_waiting_problem_alerts(*, now: datetime, job_names: Collection[str] | None) -> int:
    """Expire the pending deliveries of problem alerts (those of `job_names`, or of every job
    when None) and close the alerts left with nothing pending; deliveries a checker is sending
    right now (leased) finish. Returns how many alerts were touched."""
    not_leased = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    waiting = AlertDelivery.objects.filter(
        not_leased, state=DeliveryState.PENDING, alert__kind__in=PROBLEM_KINDS
    )
    if job_names is not None:
        waiting = waiting.filter(alert__job_id__in=list(job_names))
    with transaction.atomic():
        alert_ids = set(waiting.values_list("alert_id", flat=True))
        if not alert_ids:
            return 0
        AlertDelivery.objects.filter(
            not_leased, alert_id__in=alert_ids, state=DeliveryState.PENDING
        ).update(state=DeliveryState.EXPIRED, updated_at=now, lease_until=None)
        Alert.objects.filter(id__in=alert_ids).exclude(
            deliveries__state=DeliveryState.PENDING
        ).update(done=True)
    return len(alert_ids)
