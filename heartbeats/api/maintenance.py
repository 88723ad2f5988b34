"""Maintenance windows as the API shows and writes them, checked by
`domain.maintenance.problems` as the admin's form is. The "Silence all alerts" window is shown
(`"silence": true`) but only the job list's silence, with its permission, sets or ends it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from heartbeats.api.maintenance_schemas import MaintenanceSpec, clock, moment
from heartbeats.api.writes import SpecError, normalized_tags
from heartbeats.domain import maintenance
from heartbeats.models import JobHeartbeat, MaintenanceWindow

API_NAMES = {"time_from": "from", "time_to": "to"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_dict(window: MaintenanceWindow, *, now: datetime) -> dict[str, Any]:
    values = maintenance.from_row({f: getattr(window, f) for f in maintenance.FIELDS})
    return {
        "id": str(window.id),
        "name": window.name,
        "start": _iso(window.start),
        "end": _iso(window.end),
        "days": window.days,
        "from": f"{window.time_from:%H:%M}" if window.time_from else None,
        "to": f"{window.time_to:%H:%M}" if window.time_to else None,
        "tz": window.tz,
        "checks": sorted(str(job.uuid) for job in window.jobs.all()),
        "tags": window.tags,
        "all": window.all_jobs,
        "silence": window.silence,
        "open_until": _iso(maintenance.open_until(values, now=now)),
    }


def listed(*, now: datetime) -> list[dict[str, Any]]:
    windows = MaintenanceWindow.objects.order_by("name", "id").prefetch_related("jobs")
    return [to_dict(window, now=now) for window in windows]


def _jobs(codes: list[str]) -> list[JobHeartbeat]:
    wanted = {uuid.UUID(code) for code in codes}
    found = list(JobHeartbeat.objects.filter(uuid__in=wanted))
    if missing := wanted - {job.uuid for job in found}:
        raise SpecError(f"invalid check identifier: {sorted(map(str, missing))[0]}")
    return found


def _set_times(window: MaintenanceWindow, spec: MaintenanceSpec) -> None:
    """Times of one form replace the other: start or end given make the window one-off (days,
    from and to cleared), days, from or to make it recurring (start and end cleared)."""
    given = spec.model_fields_set
    if {"start", "end"} & given:
        window.days, window.time_from, window.time_to = "", None, None
        window.start = moment(spec.start) if spec.start is not None else window.start
        window.end = moment(spec.end) if spec.end is not None else window.end
    if {"days", "time_from", "time_to"} & given:
        if not {"start", "end"} & given:
            window.start = window.end = None
        window.days = spec.days if spec.days is not None else window.days
        window.time_from = clock(spec.time_from) if spec.time_from is not None else window.time_from
        window.time_to = clock(spec.time_to) if spec.time_to is not None else window.time_to


def save(window: MaintenanceWindow, spec: MaintenanceSpec) -> MaintenanceWindow:
    """Create (a new `window`) or change it from `spec`; fields left out stay as they are."""
    if window.silence:
        raise SpecError("the silence is set and ended from the job list, not over the API", 403)
    if window._state.adding and spec.name is None:
        raise SpecError("json validation error: a new window needs a name")
    jobs = _jobs(spec.checks) if spec.checks is not None else None
    _set_times(window, spec)
    window.name = spec.name.strip() if spec.name is not None else window.name
    window.tz = spec.tz if spec.tz is not None else window.tz
    window.tags = normalized_tags(spec.tags) if spec.tags is not None else window.tags
    window.all_jobs = spec.all if spec.all is not None else window.all_jobs
    listed_jobs = jobs if jobs is not None else (
        [] if window._state.adding else list(window.jobs.all())
    )  # fmt: skip
    found = maintenance.problems(
        start=window.start, end=window.end, days=window.days, time_from=window.time_from,
        time_to=window.time_to, tz=window.tz,
        covers_jobs=bool(window.all_jobs or window.tags or listed_jobs),
    )  # fmt: skip
    if not window.name:
        found.setdefault("name", "A window needs a name.")
    if found:
        field, message = next(iter(found.items()))
        where = "" if field == "__all__" else f"{API_NAMES.get(field, field)}: "
        raise SpecError(f"json validation error: {where}{message}")
    window.updated_at = timezone.now()
    window.save()
    if jobs is not None:
        window.jobs.set(jobs)
    return window
