"""Per-job schedules: when the next run is expected, in words, and the next few runs.

Pure functions over plain values. Cron expressions are evaluated in the job's own IANA zone by
cronsim, so "0 2 * * *" in Europe/Berlin follows that clock across DST changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from heartbeats.domain import durations

# Longer than this is not a schedule a monitor can watch (and far dates overflow datetime).
MAX_SPAN = timedelta(days=366)
# Cron's own resolution, and Healthchecks.io's shortest period.
MIN_PERIOD = timedelta(minutes=1)


class ScheduleError(ValueError):
    """A schedule that cannot be evaluated: bad cron expression or unknown time zone."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}") from None


def cron_runs(expression: str, tz: str, after: datetime) -> Iterator[datetime]:
    """The expected run times strictly after `after`, as aware UTC datetimes."""
    local = after.astimezone(zone(tz)).replace(microsecond=0)
    try:
        runs = CronSim(expression, local)
    except CronSimError as exc:
        raise ScheduleError(f"invalid cron expression {expression!r}: {exc}") from None
    for run in runs:
        yield run.astimezone(UTC)


def check_span(
    what: str, value: timedelta | None, *, allow_zero: bool, minimum: timedelta = timedelta(0)
) -> None:
    """A period or grace time a monitor can work with: not negative, at least `minimum`, at
    most MAX_SPAN."""
    if value is None:
        return
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero):
        raise ScheduleError(f"the {what} must be {'0 or more' if allow_zero else 'positive'}")
    if value < minimum:
        raise ScheduleError(f"the {what} must be at least {durations.duration(minimum)}")
    if value > MAX_SPAN:
        raise ScheduleError(f"the {what} must be at most {MAX_SPAN.days} days")


def check_period(period: timedelta | None) -> None:
    """A period from MIN_PERIOD to MAX_SPAN (or none)."""
    check_span("period", period, allow_zero=False, minimum=MIN_PERIOD)


def check_grace(grace: timedelta | None) -> None:
    """A grace time from 0 to MAX_SPAN (or none)."""
    check_span("grace time", grace, allow_zero=True)


def validate(
    *, period: timedelta | None, cron: str, tz: str, grace: timedelta | None = None
) -> None:
    """Raise ScheduleError unless the schedule is usable."""
    check_grace(grace)
    check_period(period)
    if period is not None and cron:
        raise ScheduleError("give either a period or a cron expression, not both")
    zone(tz)
    if cron:
        next(cron_runs(cron, tz, datetime.now(UTC)))


def next_expected(
    *, last_run_at: datetime, period: timedelta | None, cron: str, tz: str
) -> datetime | None:
    """When the run after `last_run_at` is expected; None for a job without a schedule."""
    if cron:
        return next(cron_runs(cron, tz, last_run_at))
    if period is not None:
        return last_run_at + period
    return None


def due_at(
    *, last_run_at: datetime, period: timedelta | None, cron: str, tz: str, grace: timedelta
) -> datetime | None:
    """When a scheduled job is down if no run arrives: next expected run plus grace."""
    expected = next_expected(last_run_at=last_run_at, period=period, cron=cron, tz=tz)
    return None if expected is None else expected + grace


def upcoming(
    *, after: datetime, period: timedelta | None, cron: str, tz: str, count: int = 5
) -> list[datetime]:
    """The next `count` expected runs after `after` (UTC)."""
    if cron:
        runs = cron_runs(cron, tz, after)
        return [next(runs) for _ in range(count)]
    if period is not None:
        return [after + period * (i + 1) for i in range(count)]
    return []


def describe(
    *, period: timedelta | None, cron: str, tz: str, grace: timedelta, stale_after: timedelta
) -> str:
    """The schedule in words, for the admin and alert messages; a cron expression stays
    beside its words ("at 02:00 (Europe/Berlin, cron '0 2 * * *'), 30 min grace")."""
    if cron:
        words = cron_in_words(cron)
        where = f"{words} ({tz}, cron '{cron}')" if words else f"cron '{cron}' ({tz})"
        return f"{where}, {durations.duration(grace)} grace"
    if period is not None:
        return f"every {durations.duration(period)}, {durations.duration(grace)} grace"
    return f"default: stale after {durations.duration(stale_after)} without a heartbeat"


def cron_in_words(expression: str) -> str:
    """A cron expression as people say it ("at 02:00, only on Monday"): cron-descriptor's
    English, in 24-hour time; empty where it cannot say."""
    # Imported here: it costs ~0.3 s, which every command start-up would pay.
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options(locale_code="en_US", use_24hour_time_format=True)
    try:
        words = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # the words are an aid: a describer's failure must not cost the alert
        return ""
    return words[:1].lower() + words[1:]


def checker_deadline(
    *, last_started: datetime, cron: str, tz: str, missed: int = 2, slack: timedelta
) -> datetime:
    """When the checker counts as broken: `missed` scheduled runs after its last start, plus slack.

    Counting scheduled runs rather than multiplying one period keeps irregular schedules honest
    ("0 2 * * 1-5" skips the weekend); for a regular one it is two periods after the last run.
    `slack` covers the seconds a run takes to start after its scheduled minute.
    """
    runs = cron_runs(cron, tz, last_started)
    for _ in range(missed - 1):
        next(runs)
    return next(runs) + slack


def run_gaps(
    cron: str, tz: str, *, after: datetime | None = None, days: int = 8, runs: int = 500
) -> list[timedelta]:
    """The waits between consecutive runs of `crontab_jobs` over `days` after `after` (or its next
    `runs` runs, if fewer): a weekday schedule's weekend is in, a monthly one's month too."""
    times = cron_runs(cron, tz, after or datetime.now(UTC))
    first = previous = next(times)
    gaps = []
    for current in itertools.islice(times, runs):
        gaps.append(current - previous)
        if current - first > timedelta(days=days):
            break
        previous = current
    return gaps
