"""A job as Healthchecks' check object, and finding checks by UUID, unique key, tag or slug."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from heartbeats.domain import policy, queries, rules, schedules, tags
from heartbeats.models import JobHeartbeat

STATUS = {
    rules.JobState.PAUSED: "paused",
    rules.JobState.FAILED: "down",
    rules.JobState.DOWN: "down",
    rules.JobState.NEW: "new",
    rules.JobState.LATE: "grace",
    rules.JobState.UP: "up",
}


def status(job: JobHeartbeat, *, now: datetime, v: int) -> str:
    """new, up, grace, down or paused; v1 says `started` for a run in progress, v2 and v3 the
    state under it (and `started: true`)."""
    facts = queries.job_facts(job)
    stale_after = policy.thresholds().stale_after
    state = rules.job_state(facts, now=now, stale_after=stale_after)
    if state == rules.JobState.RUNNING:
        if v == 1:
            return "started"
        idle = dataclasses.replace(facts, run_deadline=None)
        state = rules.job_state(idle, now=now, stale_after=stale_after)
    return STATUS[state]


def unique_key(job: JobHeartbeat) -> str:
    """Healthchecks' stable read-only identifier, derived from the UUID the same way."""
    return hashlib.sha1(job.uuid.hex[:16].encode()).hexdigest()


def _seconds(value) -> int:
    return int(value.total_seconds())


def to_dict(job: JobHeartbeat, *, readonly: bool, v: int, now: datetime) -> dict[str, Any]:
    scheduled = job.n_runs > 0 and not job.paused and job.has_schedule
    next_ping = (
        schedules.next_expected(
            last_run_at=job.last_run_at, period=job.period, cron=job.cron, tz=job.tz
        )
        if scheduled
        else None
    )
    result: dict[str, Any] = {
        "name": job.name,
        "slug": job.job_name,
        "tags": job.tags,
        "desc": job.desc,
        "grace": _seconds(policy.grace_of(job.grace)),
        "n_pings": job.n_pings,
        "status": status(job, now=now, v=v),
        "started": job.run_deadline is not None,
        "last_ping": job.last_run_at.isoformat() if job.n_runs else None,
        "next_ping": next_ping.isoformat() if next_ping else None,
        "manual_resume": job.manual_resume,
        "methods": job.methods,
        "subject": "",
        "subject_fail": "",
        "start_kw": job.start_kw,
        "success_kw": job.success_kw,
        "failure_kw": job.failure_kw,
        "filter_subject": False,
        "filter_body": job.filter_body,
    }
    if job.last_duration:
        result["last_duration"] = _seconds(job.last_duration)
    if readonly:
        result["unique_key"] = unique_key(job)
    else:
        base = settings.SITE_URL.rstrip("/")
        update_url = f"{base}/api/v{v}/checks/{job.uuid}"
        result |= {
            "uuid": str(job.uuid),
            "ping_url": f"{base}/ping/{job.uuid}",
            "update_url": update_url,
            "pause_url": f"{update_url}/pause",
            "resume_url": f"{update_url}/resume",
            "channels": channels_of(job),
        }
    if job.cron:
        result |= {"schedule": job.cron, "tz": job.tz}
    else:
        result["timeout"] = _seconds(job.period or policy.thresholds().stale_after)
    return result


def channels_of(job: JobHeartbeat) -> str:
    """The check's `channels`: "" for none at all, the named channels' ids, or "*"."""
    if job.no_channels:
        return ""
    return ",".join(sorted(str(channel.id) for channel in job.channels.all())) or "*"


def by_id(identifier: str, *, unique_key_too: bool) -> JobHeartbeat | None:
    """The job with this UUID, or (where Healthchecks takes one: getting a check, its flips)
    this unique key."""
    try:
        return JobHeartbeat.objects.filter(uuid=uuid.UUID(identifier)).first()
    except ValueError:
        pass
    if not unique_key_too or len(identifier) != 40:
        return None
    for job in JobHeartbeat.objects.only("uuid").iterator():
        if unique_key(job) == identifier:
            return JobHeartbeat.objects.get(pk=job.pk)
    return None


def listed(*, tag_filter: Iterable[str], slug: str | None) -> QuerySet[JobHeartbeat]:
    """Jobs carrying every tag in `tag_filter`, with this job name when `slug` is given."""
    jobs = JobHeartbeat.objects.order_by("created_at", "job_name").prefetch_related("channels")
    for tag in set(tag_filter):
        jobs = jobs.filter(tags.has_tag_q(tag))
    if slug:
        jobs = jobs.filter(job_name__iexact=slug)
    return jobs
