"""Retention: remove deprecated jobs and old history, in batches, and never a live job.

A job is deprecated when it was created over RETENTION_JOB_CREATED_DAYS ago and has been
overdue by its own schedule for over RETENTION_JOB_SILENT_DAYS (`rules.overdue`: past `due_at`,
which includes the grace time; without a schedule, past its last heartbeat plus
STALE_AFTER_HOURS), is not paused and has no undelivered alert. Each batch of jobs is one
DELETE whose WHERE re-checks that condition on the row itself, so a job pinged after the batch
was chosen stays; the job's events and alerts go in the same transaction (foreign keys are
checked at commit). Removals are logged by name and written to the admin history.

History rows go by age. What the Prometheus counters counted of them is added to `counters`
in the transaction that deletes them, so no counter goes down. May import models, `policy`,
`counters`, `job_count` and `queries`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from heartbeats import job_count
from heartbeats.domain import policy, queries
from heartbeats.models import (
    Alert,
    AlertDelivery,
    ApiRequestCount,
    CheckRun,
    DeliveryState,
    Flip,
    JobHeartbeat,
    MaintenanceWindow,
    PingEvent,
)
from heartbeats.reporting import counters

logger = logging.getLogger(__name__)

# The inactive account the admin history names for removals nobody clicked.
SYSTEM_USERNAME = "cronmonitor-system"
Progress = Callable[[str, int], None]
DAY = timedelta(days=1)
PRUNE_LOCK_KEY = 7_202_612  # any constant shared by all prunes of one database


@dataclass(frozen=True)
class RemovedJob:
    job_name: str
    last_run_at: datetime
    due: datetime  # `due_at`, or for a job without a schedule its last run plus STALE_AFTER

    @classmethod
    def of(
        cls, job_name: str, last_run_at: datetime, due_at: datetime | None, stale_after: timedelta
    ) -> RemovedJob:
        return cls(job_name, last_run_at, due_at or last_run_at + stale_after)

    def describe(self) -> str:
        return (
            f"{self.job_name}: last run {self.last_run_at:%Y-%m-%d %H:%M} UTC, "
            f"due {self.due:%Y-%m-%d %H:%M} UTC"
        )


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


def deprecated_q(*, now: datetime) -> Q:
    """The jobs retention removes at `now`: old, overdue for long, not paused, all alerts out.

    Overdue by more than RETENTION_JOB_SILENT_DAYS at `now` is stale at `now` minus those days,
    so the stale rule's own SQL twin serves, grace and boundaries included.
    """
    undelivered = Alert.objects.filter(job=OuterRef("pk")).filter(
        Q(done=False) | Q(deliveries__state=DeliveryState.PENDING)
    )
    silent = settings.RETENTION_JOB_SILENT_DAYS * DAY
    return (
        Q(created_at__lt=now - settings.RETENTION_JOB_CREATED_DAYS * DAY, paused=False)
        & queries.stale_q(now=now - silent, stale_after=policy.thresholds().stale_after)
        & Q(~Exists(undelivered))  # a Q like the others: the stubs type only Q & Q
    )


def deprecated_jobs(*, now: datetime) -> QuerySet[JobHeartbeat]:
    return JobHeartbeat.objects.filter(deprecated_q(now=now))


def _old_events(now: datetime) -> QuerySet[PingEvent]:
    return PingEvent.objects.filter(created_at__lt=now - settings.RETENTION_EVENT_DAYS * DAY)


def _old_alerts(now: datetime) -> QuerySet[Alert]:
    return Alert.objects.filter(done=True, created_at__lt=now - settings.RETENTION_ALERT_DAYS * DAY)


def _old_runs(now: datetime) -> QuerySet[CheckRun]:
    return CheckRun.objects.filter(started_at__lt=now - settings.RETENTION_CHECKRUN_DAYS * DAY)


def _old_flips(now: datetime) -> QuerySet[Flip]:
    return Flip.objects.filter(created_at__lt=now - settings.RETENTION_FLIP_DAYS * DAY)


def _old_counts(now: datetime) -> QuerySet[ApiRequestCount]:
    """The rate limit's counts of minutes long gone (it reads only the current one)."""
    return ApiRequestCount.objects.filter(minute__lt=now - timedelta(hours=1))


def retention_querysets(*, now: datetime) -> list[tuple[str, QuerySet]]:
    """Everything a prune at `now` removes, by kind: what `--dry-run` counts."""
    jobs = deprecated_jobs(now=now)
    alerts = Alert.objects.filter(Q(pk__in=_old_alerts(now)) | Q(job__in=jobs))
    return [
        ("ping events", PingEvent.objects.filter(Q(pk__in=_old_events(now)) | Q(job__in=jobs))),
        ("alert deliveries", AlertDelivery.objects.filter(alert__in=alerts)),
        ("alerts", alerts),
        ("check runs", _old_runs(now)),
        ("flips", Flip.objects.filter(Q(pk__in=_old_flips(now)) | Q(job__in=jobs))),
        ("API request counts", _old_counts(now)),
        ("jobs", jobs),
    ]


def would_remove(*, now: datetime) -> Iterator[RemovedJob]:
    """The jobs a prune at `now` would remove, by name, streamed."""
    stale_after = policy.thresholds().stale_after
    rows = (
        deprecated_jobs(now=now)
        .order_by("job_name")
        .values_list("job_name", "last_run_at", "due_at")
    )
    for name, last_run_at, due_at in rows.iterator():
        yield RemovedJob.of(name, last_run_at, due_at, stale_after)


def _where_sql(qs: QuerySet) -> tuple[str, list]:
    """The WHERE clause of `qs` alone, to re-check on the rows a DELETE touches."""
    return qs.query.get_compiler(connection=connection).compile(qs.query.where)


def _delete_job_batch(*, now: datetime, batch_size: int) -> list[JobHeartbeat]:
    """One DELETE: a batch chosen by the condition, each row deleted only if it still holds."""
    jobs = deprecated_jobs(now=now)
    where, where_params = _where_sql(jobs)
    chosen, chosen_params = (
        jobs.order_by("job_name").values("job_name")[:batch_size].query.sql_with_params()
    )
    table = connection.ops.quote_name(JobHeartbeat._meta.db_table)
    sql = (
        f"DELETE FROM {table} WHERE {where} AND job_name IN ({chosen}) "
        "RETURNING job_name, last_run_at, due_at"
    )
    return list(JobHeartbeat.objects.raw(sql, [*where_params, *chosen_params]))


def system_user() -> AbstractBaseUser:
    """The inactive, password-less account removals are recorded under, made on first use."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        **{user_model.USERNAME_FIELD: SYSTEM_USERNAME},
        defaults={"is_active": False, "password": make_password(None)},
    )
    return user


def _record_removals(removed: list[RemovedJob]) -> None:
    content_type = ContentType.objects.get_for_model(JobHeartbeat)
    user = system_user()
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=user.pk,
            content_type=content_type,
            object_id=job.job_name,
            object_repr=job.job_name,
            action_flag=DELETION,
            change_message=f"Removed by retention ({job.describe()}).",
        )
        for job in removed
    )
    for job in removed:
        logger.info("retention removed job %s", job.describe())


def _one_batch_at_a_time() -> None:
    """Two prunes counting the same rows before either deletes them would add them to the
    counters twice; SQLite's immediate transactions already serialise batches."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PRUNE_LOCK_KEY])


def _count(result: PruneResult, name: str, n: int, progress: Progress) -> None:
    result.deleted[name] += n
    progress(name, result.deleted[name])


def _delete_alerts(result: PruneResult, alerts: QuerySet[Alert]) -> None:
    """Alerts with their deliveries, the counters' share of them recorded first."""
    deliveries = AlertDelivery.objects.filter(alert__in=alerts)
    counters.add_pruned_deliveries(deliveries)
    result.deleted["alert deliveries"] += deliveries.delete()[0]
    result.deleted["alerts"] += alerts.delete()[0]


def _prune_jobs(result: PruneResult, *, now: datetime, batch_size: int, progress: Progress) -> None:
    stale_after = policy.thresholds().stale_after
    while True:
        with transaction.atomic():
            _one_batch_at_a_time()
            batch = _delete_job_batch(now=now, batch_size=batch_size)
            if not batch:
                return
            names = [job.job_name for job in batch]
            # The raw DELETE cascades nothing: the rows pointing at these jobs go with them.
            MaintenanceWindow.jobs.through.objects.filter(jobheartbeat_id__in=names).delete()
            result.deleted["ping events"] += PingEvent.objects.filter(job_id__in=names).delete()[0]
            result.deleted["flips"] += Flip.objects.filter(job_id__in=names).delete()[0]
            _delete_alerts(result, Alert.objects.filter(job_id__in=names))
            _record_removals(
                [RemovedJob.of(j.job_name, j.last_run_at, j.due_at, stale_after) for j in batch]
            )
        _count(result, "jobs", len(batch), progress)


def _prune_by_age(
    result: PruneResult,
    name: str,
    qs: QuerySet,
    delete: Callable[[QuerySet], None],
    *,
    batch_size: int,
    progress: Progress,
) -> None:
    """Delete `qs` in batches, each batch by `delete` in one transaction."""
    while ids := list(qs.order_by().values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            _one_batch_at_a_time()
            delete(qs.filter(pk__in=ids))
        progress(name, result.deleted[name])


def _delete_counted(result: PruneResult, name: str, rows: QuerySet) -> None:
    result.deleted[name] += rows.delete()[0]


def prune(
    *,
    now: datetime,
    dry_run: bool = False,
    batch_size: int = 5000,
    progress: Progress = lambda name, count: None,
) -> PruneResult:
    """Apply the retention policy; with `dry_run`, only count what it would delete."""
    result = PruneResult()
    querysets = retention_querysets(now=now)
    for name, qs in querysets:
        result.deleted[name] = qs.count() if dry_run else 0
    if dry_run:
        return result

    def delete_events(events: QuerySet) -> None:
        result.deleted["ping events"] += events.delete()[0]

    def delete_runs(runs: QuerySet) -> None:
        counters.add_pruned_runs(runs)
        result.deleted["check runs"] += runs.delete()[0]

    _prune_jobs(result, now=now, batch_size=batch_size, progress=progress)
    by_age = partial(_prune_by_age, result, batch_size=batch_size, progress=progress)
    by_age("ping events", _old_events(now), delete_events)
    by_age("alerts", _old_alerts(now), lambda a: _delete_alerts(result, a))
    by_age("check runs", _old_runs(now), delete_runs)
    for name, old in (("flips", _old_flips(now)), ("API request counts", _old_counts(now))):
        by_age(name, old, partial(_delete_counted, result, name))
    result.job_count_drift = job_count.repair(connection)
    if result.job_count_drift:
        logger.warning("The job counter was off by %+d; corrected", result.job_count_drift)
    return result
