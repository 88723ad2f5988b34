"""Writes: record a signal (beat or ping), and the runbook's operator procedures.

Every function takes keyword arguments and `now`, and is safe with many processes at once:
a signal is one upsert statement (plus a follow-up update only when the job has a schedule or
a run in progress) and one event insert, in one short transaction.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from heartbeats.domain import policy, queries, schedules
from heartbeats.models import (
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    AlertSilence,
    DeliveryState,
    EventKind,
    JobHeartbeat,
    Outcome,
    PingEvent,
    validate_job_name,
    validate_status,
)

MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 20
FINISHING_KINDS = (EventKind.SUCCESS, EventKind.FAIL)
RUN_ID_SHAPE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.IGNORECASE)
SIGNAL_SUFFIXES = {
    "": EventKind.SUCCESS,
    "start": EventKind.START,
    "fail": EventKind.FAIL,
    "log": EventKind.LOG,
}


class InvalidSignal(ValueError):
    """Input that must be refused before anything is written; the message is one line."""


@dataclass(frozen=True)
class SignalResult:
    job: JobHeartbeat
    created: bool
    event: PingEvent


def _depth(value: object, level: int = 0) -> int:
    if level > MAX_METADATA_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_metadata(text: str) -> dict:
    """Metadata as given on the command line: a JSON object of sensible size and depth."""
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidSignal(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidSignal(f"metadata is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise InvalidSignal(str(exc)) from None
    if not isinstance(value, dict):
        raise InvalidSignal('metadata must be a JSON object, like {"rows": 42}')
    if _depth(value) > MAX_METADATA_DEPTH:
        raise InvalidSignal(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidSignal(
            "metadata holds a lone surrogate (\\ud800-\\udfff): not UTF-8"
        ) from None
    if "\\u0000" in json.dumps(value):
        raise InvalidSignal("metadata must not contain NUL characters (\\u0000)")
    return value


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON: databases refuse them in JSON columns."""
    raise ValueError(f"metadata is not valid JSON: {name} is not allowed")


def validate_signal(*, job_name: str, status: str | None) -> None:
    try:
        validate_job_name(job_name)
    except Exception:
        raise InvalidSignal(
            f"invalid job name {job_name[:140]!r}: use 1 to 128 letters, digits, '.', '_', '-' "
            "or ':'"
        ) from None
    if status is not None:
        try:
            validate_status(status)
        except Exception:
            raise InvalidSignal(
                f"invalid status {status[:40]!r}: use one word of up to 32 letters, digits, '_' "
                "or '-'"
            ) from None


def exit_status_kind(exit_status: int) -> EventKind:
    """A finished run's signal from its exit status, as a shell sees it: 0 is success."""
    if not 0 <= exit_status <= 255:
        raise InvalidSignal(f"invalid exit status {exit_status}: use 0 to 255")
    return EventKind.SUCCESS if exit_status == 0 else EventKind.FAIL


def parse_signal(suffix: str) -> tuple[EventKind, int | None]:
    """The signal named by a ping URL's last part: '', start, fail, log or an exit status."""
    if suffix in SIGNAL_SUFFIXES:
        return SIGNAL_SUFFIXES[suffix], None
    if re.fullmatch(r"[0-9]{1,9}", suffix):
        exit_status = int(suffix)
        return exit_status_kind(exit_status), exit_status
    raise InvalidSignal(f"invalid signal {suffix[:40]!r}: use start, fail, log or 0 to 255")


def parse_rid(text: str) -> uuid.UUID:
    """A run id, which pairs a start with its finish: a UUID, with or without its dashes.

    `uuid.UUID` alone also takes braces, a "urn:uuid:" prefix and, through `int`, a newline or
    space in place of a missing digit."""
    if not RUN_ID_SHAPE.fullmatch(text):
        raise InvalidSignal("invalid uuid format")
    return uuid.UUID(text)


def storable_body(body: str) -> str:
    """The first PING_BODY_LIMIT bytes of `body`, without the NUL PostgreSQL cannot store."""
    clipped = body.encode()[: policy.ping_body_limit()].decode(errors="ignore")
    return clipped.replace("\x00", "\ufffd")


def _upsert_sql(kind: str, *, create: bool, lookup: str) -> tuple[str, list[str]]:
    """The statement for one signal, and the names of its parameters in order."""
    finishing = kind in FINISHING_KINDS
    sets = ["updated_at = %s"]
    names = ["now"]
    if finishing:
        sets += ["last_run_at = %s", "last_outcome = %s", "n_runs = job_heartbeats.n_runs + 1"]
        names += ["now", "outcome"]
        sets += ["status = COALESCE(%s, job_heartbeats.status)"]
        names += ["status"]
        sets += [f"metadata = COALESCE({_json_param()}, job_heartbeats.metadata)"]
        names += ["metadata"]
        if kind == EventKind.SUCCESS:
            sets += ["last_success_at = %s"]
            names += ["now"]
    elif kind == EventKind.START:
        sets += ["last_start_at = %s"]
        names += ["now"]
    # Names match whatever their case, through the unique index on lower(job_name).
    where = "lower(job_name) = lower(%s)" if lookup == "job_name" else f"{lookup} = %s"
    if not create:
        sql = f"UPDATE job_heartbeats SET {', '.join(sets)} WHERE {where} RETURNING *"
        return sql, [*names, "lookup"]
    columns = (
        "job_name, uuid, last_run_at, status, metadata, created_at, updated_at, last_outcome, "
        "n_runs, paused, alerted, cron, tz, last_start_at, last_success_at, flapping, "
        "recent_incidents"
    )
    # An existing job's stored spelling, so the conflict lands on the primary key and updates.
    name = f"COALESCE((SELECT job_name FROM job_heartbeats WHERE {where}), %s)"
    values = (
        f"{name}, %s, %s, %s, {_json_param()}, %s, %s, %s, %s, %s, %s, '', 'UTC', %s, %s, %s, '[]'"
    )
    insert_names = [
        "lookup", "lookup", "uuid", "now", "insert_status", "insert_metadata", "now", "now",
        "outcome", "insert_runs", "false", "false", "insert_start", "insert_success", "false",
    ]  # fmt: skip
    sql = (
        f"INSERT INTO job_heartbeats ({columns}) VALUES ({values}) "
        f"ON CONFLICT (job_name) DO UPDATE SET {', '.join(sets)} RETURNING *"
    )
    return sql, insert_names + names


def _json_param() -> str:
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


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
) -> SignalResult | None:
    """Record one signal for a job (found by name, or by UUID); None when it does not exist.

    The runbook's `update_job_heartbeat()`: a success or failure sets `last_run_at`, replaces
    `status` (default 'healthy', or 'failed' for a failure) and `metadata` when given, and
    counts a run; a start marks a run in progress; a log only stores its event. With
    `create`, a missing job is created by the same statement, so concurrent first beats of one
    name all succeed. A paused job records the signal and stays paused.
    """
    if job_name is not None:
        validate_signal(job_name=job_name, status=status)
    elif status is not None:
        validate_signal(job_name="x", status=status)
    finishing = kind in FINISHING_KINDS
    if finishing and status is None:
        status = "failed" if kind == EventKind.FAIL else "healthy"
    ops = connection.ops
    uuid_field = JobHeartbeat._meta.get_field("uuid")
    params = {
        "now": ops.adapt_datetimefield_value(now),
        "outcome": EventKind.FAIL.value if kind == EventKind.FAIL else EventKind.SUCCESS.value,
        "status": status if finishing else None,
        "metadata": json.dumps(metadata) if metadata is not None and finishing else None,
        # SQLite keeps UUIDs as 32 hex digits: let the field say how, as the ORM does.
        "lookup": job_name
        if job_name is not None
        else uuid_field.get_db_prep_value(job_uuid, connection),
        "uuid": uuid_field.get_db_prep_value(uuid.uuid4(), connection),
        "insert_status": status or "healthy",
        "insert_metadata": json.dumps(metadata or {}),
        "insert_runs": 1 if finishing else 0,
        "false": False,
        "insert_start": ops.adapt_datetimefield_value(now) if kind == EventKind.START else None,
        "insert_success": ops.adapt_datetimefield_value(now) if kind == EventKind.SUCCESS else None,
    }
    lookup = "job_name" if job_name is not None else "uuid"
    create = create and job_name is not None
    sql, names = _upsert_sql(kind, create=create, lookup=lookup)
    values = [params[name] for name in names]
    write = functools.partial(
        _write, sql, values, kind=kind, now=now, rid=rid, created=create,
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


def _write(
    sql: str, values: list, *, kind: str, now: datetime, rid: uuid.UUID | None, created: bool,
    event: PingEvent,
) -> SignalResult | None:  # fmt: skip
    """The signal's upsert and event insert, in one short transaction."""
    with transaction.atomic():
        rows = list(JobHeartbeat.objects.raw(sql, values))
        if not rows:
            return None
        job = rows[0]
        created = created and job.created_at == now
        finishing = kind in FINISHING_KINDS
        event.duration = _finish_run(job, kind=kind, now=now, rid=rid) if finishing else None
        if kind == EventKind.START:
            _start_run(job, now=now)
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
            grace=job.grace if job.grace is not None else policy.default_grace(),
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
    grace = job.grace if job.grace is not None else policy.default_grace()
    job.run_deadline = now + grace
    JobHeartbeat.objects.filter(pk=job.pk).update(run_deadline=job.run_deadline)


def apply_schedule(job: JobHeartbeat) -> None:
    """Recompute `due_at` after a schedule edit, from the job's last run."""
    job.due_at = schedules.due_at(
        last_run_at=job.last_run_at,
        period=job.period,
        cron=job.cron,
        tz=job.tz,
        grace=job.grace if job.grace is not None else policy.default_grace(),
    )


SCHEDULE_FIELDS = ("period", "cron", "tz", "grace")


def save_job_edits(job: JobHeartbeat, *, fields: Sequence[str], now: datetime) -> None:
    """Write an operator's edits of `job`: only `fields`, onto the row as it is now.

    The row is read again under a lock, so what a signal or the checker wrote since the form
    was read (last run, run count, metadata, alert state) is kept, and a new schedule's
    `due_at` follows from the job's latest run. Pausing goes through `set_paused`, as the
    admin actions do. `job` is reloaded with the result.
    """
    edited = [field for field in fields if field != "paused"]
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


# --- the runbook's operator procedures ----------------------------------------------------


def reset_alerts(jobs: QuerySet[JobHeartbeat], *, now: datetime) -> int:
    """Force Reset: forget the last alert so the next check alerts again."""
    return jobs.update(last_alert_at=None, updated_at=now)


def silence_all(*, now: datetime, until: datetime) -> None:
    """Disable All Alerts Temporarily: no alert is decided before `until`. Nothing about the
    jobs changes (`last_alert_at` keeps its meaning), so every alert still due when the silence
    ends goes out then; problem alerts waiting to be (re)sent are dropped for the same reason
    (those a checker is sending right now finish)."""
    waiting = AlertDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        state=DeliveryState.PENDING,
        alert__kind__in=PROBLEM_KINDS,
    )
    with transaction.atomic():
        AlertSilence.objects.update_or_create(pk=1, defaults={"until": until, "updated_at": now})
        alert_ids = set(waiting.values_list("alert_id", flat=True))
        AlertDelivery.objects.filter(alert_id__in=alert_ids, state=DeliveryState.PENDING).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        ).update(state=DeliveryState.EXPIRED, updated_at=now, lease_until=None)
        Alert.objects.filter(id__in=alert_ids).exclude(
            deliveries__state=DeliveryState.PENDING
        ).update(done=True)


def unsilence(*, now: datetime) -> bool:
    """End "Silence all alerts" now; whether a silence was in force."""
    return bool(AlertSilence.objects.filter(pk=1, until__gt=now).update(until=None, updated_at=now))


def fresh_window(jobs: QuerySet[JobHeartbeat], *, now: datetime) -> list[str]:
    """Judge these jobs from `now`, as if just set up: resume and bulk recover.

    Each is alerted again only if it then misses its schedule (or, without one, stays silent
    for STALE_AFTER_HOURS); a run in progress gets its grace from now; a recorded failure no
    longer counts. `last_run_at` and `last_alert_at` keep their real values. Returns the names.
    """
    with transaction.atomic():
        locked = list(jobs.select_for_update().order_by("job_name"))
        for job in locked:
            grace = job.grace if job.grace is not None else policy.default_grace()
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
