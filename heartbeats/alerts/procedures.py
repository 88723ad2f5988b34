"""The runbook's operator procedures on jobs, shared by the admin and the commands: edit or add
a job, pause and resume, reset an alert, silence all alerts, bulk recovery."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from heartbeats.alerts import maintenance
from heartbeats.domain import policy, queries, schedules
from heartbeats.models import (
    SILENCE_NAME,
    Alert,
    Flip,
    JobHeartbeat,
    MaintenanceWindow,
    Outcome,
    PingEvent,
)


def apply_schedule(job: JobHeartbeat) -> None:
    """Recompute `due_at` after a schedule edit, from the job's last run."""
    job.due_at = schedules.due_at(
        last_run_at=job.last_run_at,
        period=job.period,
        cron=job.cron,
        tz=job.tz,
        grace=policy.grace_of(job.grace),
    )


SCHEDULE_FIELDS = ("period", "cron", "tz", "grace")


def save_job_edits(job: JobHeartbeat, *, fields: Sequence[str], now: datetime) -> None:
    """Write an operator's edits of `job`: only `fields`, onto the row as it is now.

    The row is read again under a lock, so what a signal or the checker wrote since the form
    was read (last run, run count, metadata, alert state) is kept, and a new schedule's
    `due_at` follows from the job's latest run. Pausing goes through `set_paused`, as the
    admin actions do. The period and the cron expression are written together. `job` is
    reloaded with the result.
    """
    edited = [field for field in fields if field != "paused"]
    if {"period", "cron"} & set(edited):
        # Either one, never both: a period and a cron another edit saved would make a pair.
        edited = [*(field for field in edited if field not in ("period", "cron")), "period", "cron"]
    with transaction.atomic():
        current = JobHeartbeat.objects.select_for_update().get(pk=job.pk)
        for field in edited:
            setattr(current, field, getattr(job, field))
        current.updated_at = now
        if set(edited) & set(SCHEDULE_FIELDS):
            apply_schedule(current)
            edited.append("due_at")
        current.save(update_fields=[*edited, "updated_at"])
        if "paused" in fields:
            set_paused(JobHeartbeat.objects.filter(pk=job.pk), paused=job.paused, now=now)
    job.refresh_from_db()


def add_job(job: JobHeartbeat, *, fields: Sequence[str], now: datetime) -> None:
    """Create a job an operator entered; if a first signal created it meanwhile, apply the
    edits to that row rather than replace it (and its UUID, runs and metadata)."""
    apply_schedule(job)
    job.updated_at = now
    try:
        with transaction.atomic():
            job.save(force_insert=True)
    except IntegrityError:
        save_job_edits(job, fields=[field for field in fields if field != "job_name"], now=now)


def reset_alerts(jobs: QuerySet[JobHeartbeat], *, now: datetime) -> int:
    """Force Reset: forget the last alert so the next check alerts again."""
    return jobs.update(last_alert_at=None, updated_at=now)


def silence_all(*, now: datetime, until: datetime) -> None:
    """Disable All Alerts Temporarily: no alert is decided before `until`, stored as the one
    "silence" maintenance window (one-off, every job). Nothing about the jobs changes
    (`last_alert_at` keeps its meaning), so every alert still due when the silence ends goes
    out then; problem alerts waiting to be (re)sent are dropped for the same reason (those a
    checker is sending right now finish)."""
    with transaction.atomic():
        MaintenanceWindow.objects.update_or_create(
            silence=True,
            defaults={
                "name": SILENCE_NAME, "start": now, "end": until, "days": "", "time_from": None,
                "time_to": None, "all_jobs": True, "updated_at": now,
            },
        )  # fmt: skip
        maintenance.drop_waiting_problem_alerts(now=now, job_names=None)


def unsilence(*, now: datetime) -> bool:
    """End "Silence all alerts" now; whether a silence was in force."""
    in_force = MaintenanceWindow.objects.filter(silence=True, start__lte=now, end__gt=now)
    return bool(in_force.delete()[0])


def fresh_window(jobs: QuerySet[JobHeartbeat], *, now: datetime) -> list[str]:
    """Judge these jobs from `now`, as if just set up: resume and bulk recover.

    Each is alerted again only if it then misses its schedule (or, without one, stays silent
    for STALE_AFTER_HOURS); a run in progress gets its grace from now; a recorded failure no
    longer counts. `last_run_at` and `last_alert_at` keep their real values. Returns the names.
    """
    with transaction.atomic():
        locked = list(jobs.select_for_update().order_by("job_name"))
        for job in locked:
            grace = policy.grace_of(job.grace)
            if job.run_deadline is not None:
                job.run_deadline = now + grace
            job.due_at = schedules.due_at(
                last_run_at=now, period=job.period, cron=job.cron, tz=job.tz, grace=grace
            )
        names = [job.job_name for job in locked]
        JobHeartbeat.objects.filter(job_name__in=names).update(
            watched_since=now, last_outcome=Outcome.SUCCESS, alerted=False, updated_at=now
        )
        JobHeartbeat.objects.bulk_update(locked, ["due_at", "run_deadline"], batch_size=1000)
    return names


def bulk_recover(*, now: datetime) -> list[str]:
    """Bulk Job Recovery: a fresh window for every stale job that is not paused (a paused
    job is left as it is); returns their names, for each job's history."""
    stale = queries.stale_jobs(now=now, stale_after=policy.thresholds().stale_after)
    return fresh_window(stale.filter(paused=False), now=now)


def set_paused(jobs: QuerySet[JobHeartbeat], *, paused: bool, now: datetime) -> int:
    """Pause (no alerts, pings still recorded) or resume jobs; resuming starts a fresh window
    for the jobs that were paused, so time spent paused is never alerted on."""
    if paused:
        return jobs.update(paused=True, updated_at=now)
    with transaction.atomic():
        names = fresh_window(jobs.filter(paused=True), now=now)
        JobHeartbeat.objects.filter(job_name__in=names).update(paused=False)
    return len(names)


def rename_job(job: JobHeartbeat, *, new_name: str, now: datetime) -> None:
    """Give `job` another name (its primary key), keeping its UUID, history and alerts.

    The name is the key the events, alerts and flips point at, so the row is copied under the
    new name, they are moved to it and the old row goes, in one transaction (foreign keys are
    checked at commit). A change of case only is no change: names match whatever their case.
    """
    if new_name.lower() == job.job_name.lower():
        return
    with transaction.atomic():
        old = JobHeartbeat.objects.select_for_update().get(pk=job.pk)
        JobHeartbeat.objects.filter(pk=old.pk).update(uuid=uuid.uuid4())
        old.job_name, old.updated_at = new_name, now
        old.save(force_insert=True)
        for model in (PingEvent, Alert, Flip):
            model.objects.filter(job_id=job.pk).update(job_id=new_name)
        JobHeartbeat.objects.filter(pk=job.pk).delete()
    job.job_name = new_name
