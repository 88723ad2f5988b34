"""Creating and changing checks from a validated spec, through the same procedures the admin
uses (`procedures.add_job`, `save_job_edits`), so a schedule edit moves `due_at` the same way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils.text import slugify

from heartbeats.alerts import procedures
from heartbeats.api.schemas import CheckSpec
from heartbeats.domain import schedules, tags
from heartbeats.models import ENV_CHANNELS, Channel, JobHeartbeat

DEFAULT_TIMEOUT = timedelta(days=1)  # Healthchecks' default for a new check
PLAIN_FIELDS = ("desc", "manual_resume", "methods", "start_kw", "success_kw", "failure_kw",
                "filter_body")  # fmt: skip


class SpecError(ValueError):
    """A spec that is valid alone but not for this job; the message is the API's error."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Routing:
    """A check's `channels` resolved: the channels it names, or none at all (`""`)."""

    named: list[Channel]
    no_channels: bool


def check_channels(spec: CheckSpec) -> Routing | None:
    """Healthchecks' forms: "*" (no channel named: its tags' channels, else the defaults), ""
    (no channel at all) or comma-separated stored channels' ids or names; None when not given.
    Read before anything is written, so an unknown channel leaves the check as it was."""
    if spec.channels is None:
        return None
    if spec.channels.strip() in ("*", ""):
        return Routing([], no_channels=not spec.channels.strip())
    parts = [part.strip() for part in spec.channels.split(",")]
    if not all(parts):
        raise SpecError("empty channel identifier")
    named: dict[uuid.UUID, Channel] = {}
    for part in parts:
        if part.lower() in ENV_CHANNELS:
            raise SpecError(f"channel {part!r} comes from the environment and alerts the jobs "
                            "naming no channel (\"*\"); it cannot be named")  # fmt: skip
        channel = channel_by_ref(part)
        if channel is None:
            raise SpecError(f"invalid channel identifier: {part[:100]}")
        named[channel.id] = channel
    return Routing(list(named.values()), no_channels=False)


def channel_by_ref(ref: str) -> Channel | None:
    """The stored channel with this id, else with this name."""
    try:
        return Channel.objects.filter(id=uuid.UUID(ref)).first()
    except ValueError:
        return Channel.objects.filter(name=ref).first()


def _route(job: JobHeartbeat, routing: Routing | None) -> None:
    if routing is not None:
        job.channels.set(routing.named)


def find_unique(spec: CheckSpec) -> JobHeartbeat | None:
    """The existing check matching every field in `spec.unique`, as Healthchecks' upsert finds
    it; None when a listed field is not given or nothing matches."""
    if not spec.unique or any(getattr(spec, name) is None for name in spec.unique):
        return None
    jobs = JobHeartbeat.objects.order_by("created_at")
    if "name" in spec.unique:
        jobs = jobs.filter(Q(display_name=spec.name) | Q(display_name="", job_name=spec.name))
    if "slug" in spec.unique:
        jobs = jobs.filter(job_name__iexact=spec.slug)
    if "tags" in spec.unique:
        jobs = jobs.filter(tags=normalized_tags(spec.tags or ""))
    if "timeout" in spec.unique:
        jobs = jobs.filter(period=timedelta(seconds=spec.timeout or 0), cron="")
    if "grace" in spec.unique:
        jobs = jobs.filter(grace=timedelta(seconds=spec.grace or 0))
    return jobs.first()


def normalized_tags(text: str) -> str:
    try:
        return tags.normalize(text)
    except Exception as exc:
        raise SpecError(f"json validation error: tags: {exc.messages[0]}") from None  # type: ignore[attr-defined]


def _free_name(name: str) -> str:
    """A job name from a check name (Healthchecks slugifies it), made unique."""
    base = slugify(name)[:120] or f"check-{uuid.uuid4().hex[:8]}"
    candidate, n = base, 1
    while JobHeartbeat.objects.filter(job_name__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _apply(job: JobHeartbeat, spec: CheckSpec, routing: Routing | None) -> list[str]:
    """Set the given fields on `job`; returns the names of the model fields changed."""
    changed: list[str] = []
    if routing is not None:
        job.no_channels = routing.no_channels
        changed.append("no_channels")
    if spec.name is not None:
        job.display_name = spec.name
        changed.append("display_name")
    if spec.tags is not None:
        job.tags = normalized_tags(spec.tags)
        changed.append("tags")
    for field in PLAIN_FIELDS:
        if (value := getattr(spec, field)) is not None:
            setattr(job, field, value)
            changed.append(field)
    if spec.schedule is not None:
        job.cron, job.period = spec.schedule, None
        changed += ["cron", "period"]
    elif spec.timeout is not None:
        job.cron, job.period = "", timedelta(seconds=spec.timeout)
        changed += ["cron", "period"]
    if spec.tz is not None:
        job.tz = spec.tz
        changed.append("tz")
    if spec.grace is not None:
        job.grace = timedelta(seconds=spec.grace)
        changed.append("grace")
    try:
        schedules.validate(period=job.period, cron=job.cron, tz=job.tz, grace=job.grace)
    except schedules.ScheduleError as exc:
        raise SpecError(f"json validation error: {exc}") from None
    return changed


def create(spec: CheckSpec, *, now: datetime) -> JobHeartbeat:
    routing = check_channels(spec)
    if spec.slug is not None:
        if JobHeartbeat.objects.filter(job_name__iexact=spec.slug).exists():
            raise SpecError(f"a check with slug {spec.slug!r} already exists", 409)
        name = spec.slug
    else:
        name = _free_name(spec.name or "")
    job = JobHeartbeat(job_name=name, last_run_at=now, created_at=now, n_runs=0)
    if spec.schedule is None and spec.timeout is None:
        job.period = DEFAULT_TIMEOUT
    fields = ["job_name", *_apply(job, spec, routing)]
    procedures.add_job(job, fields=fields, now=now)
    _route(job, routing)
    return job


def update(job: JobHeartbeat, spec: CheckSpec, *, now: datetime, v: int = 3) -> JobHeartbeat:
    """Change the given fields; v1 and v2 derive the slug (the job name) from a new name, as
    Healthchecks does; a new slug renames the job (`procedures.rename_job`)."""
    routing = check_channels(spec)
    if v < 3 and spec.slug is None and spec.name is not None and spec.name != job.name:
        spec = spec.model_copy(update={"slug": slugify(spec.name)[:128] or job.job_name})
    renamed = spec.slug is not None and spec.slug.lower() != job.job_name.lower()
    if renamed and JobHeartbeat.objects.filter(job_name__iexact=spec.slug).exists():
        raise SpecError(f"a check with slug {spec.slug!r} already exists", 409)
    fields = _apply(job, spec, routing)
    if renamed:
        assert spec.slug is not None
        procedures.rename_job(job, new_name=spec.slug, now=now)
    if fields:
        procedures.save_job_edits(job, fields=fields, now=now)
    _route(job, routing)
    return job
