"""The runbook's retention policy, in batches so a million rows never hold one long transaction.

Deleting a job would cascade through Django's collector, which loads the related rows into
memory; children are therefore deleted first, batch by batch, and the job rows last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Model, Q, QuerySet

from heartbeats import job_count
from heartbeats.models import Alert, AlertDelivery, CheckRun, JobHeartbeat, PingEvent

logger = logging.getLogger(__name__)


@dataclass
class PruneResult:
    deleted: dict[str, int] = field(default_factory=dict)
    job_count_drift: int = 0

    def summary_line(self, *, dry_run: bool) -> str:
        verb = "Would delete" if dry_run else "Deleted"
        parts = ", ".join(f"{count} {name}" for name, count in self.deleted.items())
        if self.job_count_drift:
            parts += f"; corrected the job counter by {self.job_count_drift:+d}"
        return f"{verb} {parts}"


def retention_querysets(*, now: datetime) -> list[tuple[str, QuerySet]]:
    """What the policy removes, children before parents; only finished alerts go."""
    days = timedelta(days=1)
    old_jobs = JobHeartbeat.objects.filter(
        created_at__lt=now - settings.RETENTION_JOB_CREATED_DAYS * days,
        last_run_at__lt=now - settings.RETENTION_JOB_SILENT_DAYS * days,
    )
    old_alerts = Q(done=True, created_at__lt=now - settings.RETENTION_ALERT_DAYS * days)
    doomed_alerts = Alert.objects.filter(old_alerts | Q(job__in=old_jobs))
    return [
        ("ping events", PingEvent.objects.filter(
            Q(created_at__lt=now - settings.RETENTION_EVENT_DAYS * days) | Q(job__in=old_jobs)
        )),
        ("alert deliveries", AlertDelivery.objects.filter(alert__in=doomed_alerts)),
        ("alerts", doomed_alerts),
        ("check runs", CheckRun.objects.filter(
            started_at__lt=now - settings.RETENTION_CHECKRUN_DAYS * days
        )),
        ("jobs", old_jobs),
    ]  # fmt: skip


def _delete_in_batches(
    model: type[Model], qs: QuerySet, *, batch_size: int, progress: Callable[[int], None]
) -> int:
    total = 0
    while ids := list(qs.order_by().values_list("pk", flat=True)[:batch_size]):
        deleted = model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
        total += deleted
        progress(total)
    return total


def prune(
    *,
    now: datetime,
    dry_run: bool = False,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] = lambda name, count: None,
) -> PruneResult:
    """Apply the retention policy; with `dry_run`, only count what it would delete."""
    result = PruneResult()
    for name, qs in retention_querysets(now=now):
        if dry_run:
            result.deleted[name] = qs.count()
            continue
        result.deleted[name] = _delete_in_batches(
            qs.model, qs, batch_size=batch_size, progress=lambda count, n=name: progress(n, count)
        )
    if not dry_run:
        result.job_count_drift = job_count.repair(connection)
        if result.job_count_drift:
            logger.warning("The job counter was off by %+d; corrected", result.job_count_drift)
    return result
