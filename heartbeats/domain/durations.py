"""How times and durations read to people, the same on every page: one moment format in
TIME_ZONE ("2026-11-30 21:24 UTC"), ages ("5 min ago") and durations in words ("2 min 5 s")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

NO_VALUE = "\u2013"  # en dash
MOMENT_FORMAT = "%Y-%m-%d %H:%M %Z"
UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def duration(delta: timedelta | None) -> str:
    """Its two largest units ("3 h 10 min", "2 min 5 s"); under a minute in seconds, under a
    second in milliseconds ("13 ms")."""
    if delta is None:
        return NO_VALUE
    seconds = delta.total_seconds()
    if seconds < 0:
        return f"-{duration(-delta)}"
    if seconds == 0:
        return "0 s"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 10:
        return f"{round(seconds, 1):g} s"
    counts = []
    whole = round(seconds)
    for unit, size in UNITS:
        count, whole = divmod(whole, size)
        counts.append((count, unit))
    first = next(i for i, (count, _) in enumerate(counts) if count)
    return " ".join(f"{count} {unit}" for count, unit in counts[first : first + 2] if count)


def moment(value: datetime | None) -> str:
    """A timestamp in the operator's zone (TIME_ZONE), with the zone's abbreviation."""
    if value is None:
        return NO_VALUE
    return timezone.localtime(value).strftime(MOMENT_FORMAT)


def clock(value: datetime) -> str:
    """The time of day in the operator's zone: "21:24 UTC"."""
    return timezone.localtime(value).strftime("%H:%M %Z")


def ago(value: datetime, *, now: datetime) -> str:
    """How long before `now`, in one rounded unit: "40 s ago", "5 min ago", "3 h ago", "2 d ago";
    a moment after `now` reads "in 5 min"."""
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    steps = (("s", 1, 60), ("min", 60, 3600), ("h", 3600, 172800), ("d", 86400, None))
    unit, size = next((u, n) for u, n, limit in steps if limit is None or seconds < limit)
    count = int(seconds // size)
    return f"in {count} {unit}" if future else f"{count} {unit} ago"


def moment_and_age(value: datetime | None, *, now: datetime) -> str:
    """ "2026-11-30 21:24 UTC, 5 min ago": the list columns' format."""
    if value is None:
        return NO_VALUE
    return f"{moment(value)}, {ago(value, now=now)}"
