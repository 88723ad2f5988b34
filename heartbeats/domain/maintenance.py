"""Maintenance windows: when one is open, which jobs it covers, and until when a job is in one.

The rules are pure (`open_until`, `covers`, `job_until`: a window's plain values, `now` passed
in). Recurring windows are read in the wall time of their zone with zoneinfo, so a window from
01:00 to 04:00 Europe/Berlin is that on the night the clocks change too (two or four hours).
A wall time the spring change skips counts as the same time on the old offset; one the autumn
change repeats counts at its first occurrence. There are few windows: `open_windows` reads them
in one query and finds the open ones in Python; `until_case` and `covered_q` are the SQL twins
that pick the covered jobs for a whole pass, held equal to the rules by
tests/test_maintenance_rules.py.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Case, DateTimeField, Q, QuerySet, Value, When

from heartbeats.domain import tags as job_tags
from heartbeats.models import MaintenanceWindow

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """A window's plain values, as the rules read them."""

    id: UUID
    name: str
    start: datetime | None
    end: datetime | None
    days: str
    time_from: time | None
    time_to: time | None
    tz: str
    tags: str
    all_jobs: bool
    silence: bool = False

    @property
    def recurring(self) -> bool:
        return bool(self.days)


FIELDS = [name for name in Window.__dataclass_fields__]


def _openings(window: Window, *, first_day: date, count: int):
    """The recurring window's openings that start on `count` local days from `first_day`, as
    (start, end) in UTC, in order."""
    assert window.time_from is not None and window.time_to is not None, "recurring"
    zone = ZoneInfo(window.tz)
    chosen = window.days.split()
    for offset in range(count):
        day = first_day + offset * DAY
        if DAYS[day.weekday()] not in chosen:
            continue
        ends_next_day = window.time_to <= window.time_from
        start = datetime.combine(day, window.time_from, tzinfo=zone)
        end = datetime.combine(day + DAY * ends_next_day, window.time_to, tzinfo=zone)
        yield start.astimezone(UTC), end.astimezone(UTC)


def open_until(window: Window, *, now: datetime) -> datetime | None:
    """When the window closes, if it is open at `now` (start included, end excluded); a
    recurring window that opens again the moment it closes stays open through both."""
    if not window.recurring:
        assert window.start is not None and window.end is not None, "one-off"
        return window.end if window.start <= now < window.end else None
    try:
        local_today = now.astimezone(ZoneInfo(window.tz)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a zone the forms would refuse (or tzdata dropped): it never opens
    until = None
    for start, end in _openings(window, first_day=local_today - DAY, count=9):
        if start <= (until or now) < end:
            until = end
    return until


def next_start(window: Window, *, now: datetime) -> datetime | None:
    """When the window next opens after `now`, within a week; None when it never does again."""
    if not window.recurring:
        return window.start if window.start is not None and window.start > now else None
    try:
        local_today = now.astimezone(ZoneInfo(window.tz)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return None
    starts = (start for start, _ in _openings(window, first_day=local_today, count=8))
    return next((start for start in starts if start > now), None)


def covers(window: Window, *, job_tags_text: str, listed: bool) -> bool:
    """Whether the window applies to a job with these tags, `listed` when chosen by name."""
    if window.all_jobs or listed:
        return True
    return any(job_tags.has_tag(job_tags_text, tag) for tag in window.tags.split())


def job_until(
    windows: list[Window], *, now: datetime, job_tags_text: str, listed_in: set[UUID]
) -> datetime | None:
    """Until when a job is in maintenance: the latest end of the open windows covering it."""
    ends = [
        until
        for window in windows
        if (until := open_until(window, now=now)) is not None
        and covers(window, job_tags_text=job_tags_text, listed=window.id in listed_in)
    ]
    return max(ends, default=None)


def open_windows(*, now: datetime) -> list[tuple[Window, datetime]]:
    """The windows open at `now` with their ends, latest end first, in one query."""
    candidates = MaintenanceWindow.objects.filter(
        ~Q(days="") | Q(start__lte=now, end__gt=now)
    ).values(*FIELDS)
    found = [(window, open_until(window, now=now)) for window in map(from_row, candidates)]
    opened = [(window, until) for window, until in found if until is not None]
    return sorted(opened, key=lambda pair: pair[1], reverse=True)


def from_row(row: dict) -> Window:
    """A window read with `.values(*FIELDS)`."""
    return Window(**row)


def covered_q(window: Window) -> Q:
    """The jobs `window` covers, in SQL: `covers` as a condition."""
    if window.all_jobs:
        return Q(job_name__isnull=False)
    listed = MaintenanceWindow.jobs.through.objects.filter(maintenancewindow_id=window.id)
    chosen = [Q(job_name__in=listed.values("jobheartbeat_id"))]
    chosen += [job_tags.has_tag_q(tag) for tag in window.tags.split()]
    return reduce(operator.or_, chosen)


def in_maintenance_q(opened: list[tuple[Window, datetime]]) -> Q:
    """The jobs some of the `opened` windows cover (none when there are none)."""
    if not opened:
        return Q(job_name__in=[])
    return reduce(operator.or_, (covered_q(window) for window, _ in opened))


def until_case(opened: list[tuple[Window, datetime]]) -> Case:
    """`job_until` in SQL for every row at once: the first covering window in `opened` (which
    lists the latest end first) gives the end; NULL for a job in no open window."""
    whens = [When(covered_q(window), then=Value(until)) for window, until in opened]
    return Case(*whens, default=Value(None), output_field=DateTimeField())


def maintenance_only(opened: list[tuple[Window, datetime]]) -> list[tuple[Window, datetime]]:
    """The open windows but the "Silence all alerts" one, which the checker and the pages treat
    on its own (it mutes every alert, and has its banner)."""
    return [(window, until) for window, until in opened if not window.silence]


def silence_end(opened: list[tuple[Window, datetime]]) -> datetime | None:
    return next((until for window, until in opened if window.silence), None)


def with_maintenance(qs: QuerySet, *, now: datetime) -> QuerySet:
    """Annotate `maintenance_until`: when the job's maintenance ends, if it is in a window now
    (the silence aside: it has its banner). One query for the windows, none per row."""
    return qs.annotate(maintenance_until=until_case(maintenance_only(open_windows(now=now))))


def problems(
    *,
    start: datetime | None,
    end: datetime | None,
    days: str,
    time_from: time | None,
    time_to: time | None,
    tz: str,
    covers_jobs: bool,
) -> dict[str, str]:
    """What is wrong with a window's values, by field ("__all__" for the whole): the admin's
    form and the management API refuse a window with these messages."""
    found: dict[str, str] = {}
    one_off, recurring = bool(start or end), bool(days or time_from or time_to)
    if one_off and recurring:
        found["__all__"] = (
            "A window is one-off (start and end) or recurring (days, from and to), not both."
        )
    elif not one_off and not recurring:
        found["__all__"] = (
            "Give a start and an end for a one-off window, or days, from and to for a "
            "recurring one."
        )
    elif one_off:
        if start is None or end is None:
            found["end" if start else "start"] = "A one-off window needs both a start and an end."
        elif end <= start:
            found["end"] = "The end must be after the start."
    else:
        if not days:
            found["days"] = "Choose at least one day of the week."
        if time_from is None or time_to is None:
            found["time_to" if time_from else "time_from"] = (
                "A recurring window needs the time it opens (from) and closes (to)."
            )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        found["tz"] = f"Unknown time zone {tz[:70]!r}: use an IANA name such as Europe/Berlin."
    if not covers_jobs and "__all__" not in found:
        found["__all__"] = "Choose what the window covers: jobs, tags or every job."
    return found
