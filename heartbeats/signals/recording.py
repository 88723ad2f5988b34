"""Writes: record a signal (beat or ping) and its run, and prune each job's old events.

Every function takes keyword arguments and `now`, and is safe with many processes at once:
a signal is one upsert statement (plus a follow-up update only when the job has a schedule or
a run in progress) and one event insert, in one short transaction.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from heartbeats.domain import keywords, policy, schedules
from heartbeats.models import EventKind, JobHeartbeat, PingEvent
from heartbeats.signals import flips
from heartbeats.signals.signal_input import storable_body, validate_signal
from heartbeats.signals.signal_sql import FINISHING_KINDS, upsert_sql


@dataclass(frozen=True)
class SignalResult:
    job: JobHeartbeat
    created: bool
    event: PingEvent


def record_signal(
    *,
    now: datetime,
    kind: str = EventKind.SUCCESS,
    job_name: str | None = None,
    job_uuid: uuid.UUID | None = None,
    create: bool = True,
    status: str | None = None,
    metadata: dict | None = None,
    exit_status: int | None = None,
    rid: uuid.UUID | None = None,
    body: str = "",
    remote_addr: str = "",
    user_agent: str = "",
    host: str = "",
    method: str = "",
    classify: bool = False,
    tags: str = "",
) -> SignalResult | None:
    """Record one signal for a job (found by name, or by UUID); None when it does not exist.

    The runbook's `update_job_heartbeat()`: a success or failure sets `last_run_at`, replaces
    `status` (default 'healthy', or 'failed' for a failure) and `metadata` when given, and
    counts a run; a start marks a run in progress; a log only stores its event. With
    `create`, a missing job is created by the same statement, so concurrent first beats of one
    name all succeed, with `tags` (normalised; an existing job keeps its own). A paused job
    records the signal and stays paused. With `classify` (HTTP pings), a job's keyword filter
    or POST-only setting decides the signal (`keywords.classify`), at the cost of a second
    statement for such jobs only.
    """
    if job_name is not None:
        validate_signal(job_name=job_name, status=status)
    elif status is not None:
        validate_signal(job_name="x", status=status)
    ops = connection.ops
    uuid_field = JobHeartbeat._meta.get_field("uuid")
    params = {
        "now": ops.adapt_datetimefield_value(now),
        "method": method,
        # SQLite keeps UUIDs as 32 hex digits: let the field say how, as the ORM does.
        "lookup": job_name
        if job_name is not None
        else uuid_field.get_db_prep_value(job_uuid, connection),
        "uuid": uuid_field.get_db_prep_value(uuid.uuid4(), connection),
        "insert_metadata": json.dumps(metadata or {}),
        "false": False,
        **_kind_params(kind, now=now, status=status, metadata=metadata),
        "insert_tags": tags,
    }
    create = create and job_name is not None
    write = functools.partial(
        _write, params, kind=kind, now=now, rid=rid, created=create, classify=classify,
        lookup="job_name" if job_name is not None else "uuid",
        event=PingEvent(
            created_at=now, kind=kind, rid=rid, exit_status=exit_status,
            body=storable_body(body), remote_addr=remote_addr[:45], host=host[:255],
            method=method[:8], user_agent=user_agent[:200],
        ),
    )  # fmt: skip
    try:
        return write()
    except IntegrityError:
        if not create:
            raise
        # Another process created this name in another case a moment ago (the lower-case
        # index refused the second): the statement now finds that job and updates it.
        return write()


def _kind_params(kind: str, *, now: datetime, status: str | None, metadata: dict | None) -> dict:
    """The statement's parameters that depend on the signal's kind."""
    finishing = kind in FINISHING_KINDS
    if finishing and status is None:
        status = "failed" if kind == EventKind.FAIL else "healthy"
    moment = connection.ops.adapt_datetimefield_value(now)
    return {
        "outcome": EventKind.FAIL.value if kind == EventKind.FAIL else EventKind.SUCCESS.value,
        "status": status if finishing else None,
        "metadata": json.dumps(metadata) if metadata is not None and finishing else None,
        "insert_status": status or "healthy",
        "insert_runs": 1 if finishing else 0,
        "insert_start": moment if kind == EventKind.START else None,
        "insert_success": moment if kind == EventKind.SUCCESS else None,
    }


def _upsert(params: dict, kind: str, **options) -> JobHeartbeat | None:
    sql, names = upsert_sql(kind, **options)
    rows = list(JobHeartbeat.objects.raw(sql, [params[name] for name in names]))
    return rows[0] if rows else None


def _write(
    params: dict, *, kind: str, now: datetime, rid: uuid.UUID | None, created: bool,
    classify: bool, lookup: str, event: PingEvent,
) -> SignalResult | None:  # fmt: skip
    """The signal's upsert and event insert, in one short transaction."""
    with transaction.atomic():
        job = _upsert(params, kind, create=created, lookup=lookup, guarded=classify)
        if job is None:
            return None
        created = created and job.created_at == now
        event.n = job.n_pings
        if classify and keywords.is_held(job, method=params["method"]):
            kind = keywords.classify(job, kind=kind, body=event.body, method=params["method"])
            event.kind = kind
            if kind in (*FINISHING_KINDS, EventKind.START):
                params = {**params, **_kind_params(kind, now=now, status=None, metadata=None)}
                job = _upsert(params, kind, create=False, lookup=lookup, count=False)
                assert job is not None, "the row just returned is locked by this transaction"
        finishing = kind in FINISHING_KINDS
        event.duration = _finish_run(job, kind=kind, now=now, rid=rid) if finishing else None
        if kind == EventKind.START:
            _start_run(job, now=now)
        if kind == EventKind.SUCCESS and job.flipped_down:
            flips.record_up(job, now=now, reason="a successful ping")
        event.job = job
        event.save(force_insert=True)
    return SignalResult(job=job, created=created, event=event)


def _finish_run(
    job: JobHeartbeat, *, kind: str, now: datetime, rid: uuid.UUID | None
) -> timedelta | None:
    """Close the run in progress and move the due time; returns the run's duration."""
    changes: dict = {}
    started = _run_start(job, rid=rid)
    duration = now - started if started is not None and started <= now else None
    # With overlapping runs (A starts, B starts, A finishes) A's finish must not hide B hanging.
    # Only a finish known to close an older start keeps the run in progress: one whose start was
    # pruned or never sent ends it, as every finish did before run ids.
    older = started is not None and job.last_start_at is not None and started < job.last_start_at
    if job.run_deadline is not None and not older:
        changes["run_deadline"] = None
    if duration is not None:
        changes["last_duration"] = duration
    if job.has_schedule:
        changes["due_at"] = schedules.due_at(
            last_run_at=now,
            period=job.period,
            cron=job.cron,
            tz=job.tz,
            grace=policy.grace_of(job.grace),
        )
    if changes:
        JobHeartbeat.objects.filter(pk=job.pk).update(**changes)
        for field, value in changes.items():
            setattr(job, field, value)
    return duration


def _run_start(job: JobHeartbeat, *, rid: uuid.UUID | None) -> datetime | None:
    if rid is not None:
        return (
            PingEvent.objects.filter(job=job, kind=EventKind.START, rid=rid)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
    return job.last_start_at if job.run_deadline is not None else None


def _start_run(job: JobHeartbeat, *, now: datetime) -> None:
    grace = policy.grace_of(job.grace)
    job.run_deadline = now + grace
    JobHeartbeat.objects.filter(pk=job.pk).update(run_deadline=job.run_deadline)


def prune_events(*, keep: int, since: datetime | None = None, batch_size: int = 1000) -> int:
    """Delete every job's events beyond its newest `keep`, so a ping flood cannot fill the disk.

    Only jobs with an event at or after `since` can have grown past `keep` since the last
    prune, so the checker passes its previous start and the cost follows recent activity, not
    the table's size. Two queries per batch: rank events per job with a window function,
    delete one batch of the surplus; short batches keep row locks brief.
    """
    events = PingEvent.objects.all()
    if since is not None:
        recent_jobs = PingEvent.objects.filter(created_at__gte=since).values("job_id")
        events = events.filter(job_id__in=recent_jobs)
    ranked = events.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("job_id")],
            order_by=[F("created_at").desc(), F("id").desc()],
        )
    )
    deleted = 0
    while batch := list(ranked.filter(rank__gt=keep).values_list("id", flat=True)[:batch_size]):
        deleted += PingEvent.objects.filter(id__in=batch).delete()[0]
    return deleted
