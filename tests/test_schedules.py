"""Schedules at DST changes: cron follows the job's wall clock, a period is elapsed time.

Expected times are worked out by hand from each zone's rules: Europe/Berlin moves 02:00 CET
to 03:00 CEST on 2026-03-29 (01:00 UTC) and 03:00 CEST back to 02:00 CET on 2026-10-25
(01:00 UTC); America/New_York moves 02:00 EST to 03:00 EDT on 2026-03-08 (07:00 UTC) and
02:00 EDT back to 01:00 EST on 2026-11-01 (06:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heartbeats.admin.forms import JobHeartbeatForm
from heartbeats.domain import schedules
from heartbeats.models import JobHeartbeat


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "tz", "after", "expected"),
    [
        # 02:30 does not exist on the spring day: the run happens at 03:00 local, once.
        (
            "30 2 * * *",
            "Europe/Berlin",
            utc(3, 27, 12),
            [utc(3, 28, 1, 30), utc(3, 29, 1), utc(3, 30, 0, 30)],
        ),
        # 02:30 happens twice on the autumn day: the run happens at the first one only.
        (
            "30 2 * * *",
            "Europe/Berlin",
            utc(10, 23, 12),
            [utc(10, 24, 0, 30), utc(10, 25, 0, 30), utc(10, 26, 1, 30)],
        ),
        (
            "30 2 * * *",
            "America/New_York",
            utc(3, 6, 12),
            [utc(3, 7, 7, 30), utc(3, 8, 7), utc(3, 9, 6, 30)],
        ),
        (
            "30 1 * * *",
            "America/New_York",
            utc(10, 30, 12),
            [utc(10, 31, 5, 30), utc(11, 1, 5, 30), utc(11, 2, 6, 30)],
        ),
    ],
)
def test_daily_cron_follows_the_local_clock_across_dst(cron, tz, after, expected):
    runs = schedules.upcoming(after=after, period=None, cron=cron, tz=tz, count=3)
    assert runs == expected


@pytest.mark.parametrize(
    ("tz", "after"),
    [
        ("Europe/Berlin", utc(3, 28, 22, 30)),
        ("Europe/Berlin", utc(10, 24, 22, 30)),
        ("America/New_York", utc(3, 8, 4, 30)),
        ("America/New_York", utc(11, 1, 3, 30)),
    ],
)
def test_hourly_cron_stays_hourly_in_utc_across_dst(tz, after):
    """Neither the skipped nor the repeated hour makes an hourly job look late or early."""
    runs = schedules.upcoming(after=after, period=None, cron="0 * * * *", tz=tz, count=6)
    first = after.replace(minute=0) + timedelta(hours=1)
    assert runs == [first + timedelta(hours=i) for i in range(6)]


def test_due_at_after_the_skipped_hour_is_the_shifted_run_plus_grace():
    due = schedules.due_at(
        last_run_at=utc(3, 28, 1, 30),
        period=None,
        cron="30 2 * * *",
        tz="Europe/Berlin",
        grace=timedelta(minutes=20),
    )
    assert due == utc(3, 29, 1, 20)
    assert due.astimezone(ZoneInfo("Europe/Berlin")).isoformat() == "2026-03-29T03:20:00+02:00"


@pytest.mark.parametrize(
    ("tz", "last_run_at", "expected"),
    [
        # 02:05 CET, the second pass of the repeated hour: next is 02:15 CET, not 02:15 CEST.
        ("Europe/Berlin", utc(10, 25, 1, 5), utc(10, 25, 1, 15)),
        # 01:05 EST, the second pass in New York.
        ("America/New_York", utc(11, 1, 6, 5), utc(11, 1, 6, 15)),
    ],
)
def test_due_at_inside_the_repeated_hour_is_never_in_the_past(tz, last_run_at, expected):
    due = schedules.due_at(
        last_run_at=last_run_at, period=None, cron="*/15 * * * *", tz=tz, grace=timedelta(0)
    )
    assert due == expected


def test_a_period_is_elapsed_time_whatever_the_local_clock_does():
    runs = schedules.upcoming(
        after=utc(3, 28, 12), period=timedelta(days=1), cron="", tz="Europe/Berlin", count=2
    )
    assert runs == [utc(3, 29, 12), utc(3, 30, 12)]
    due = schedules.due_at(
        last_run_at=utc(10, 25, 0, 30),
        period=timedelta(hours=1),
        cron="",
        tz="Europe/Berlin",
        grace=timedelta(minutes=5),
    )
    assert due == utc(10, 25, 1, 35)


def test_a_job_without_schedule_has_no_due_time():
    assert (
        schedules.due_at(
            last_run_at=utc(3, 1, 0), period=None, cron="", tz="UTC", grace=timedelta(hours=1)
        )
        is None
    )
    assert schedules.upcoming(after=utc(3, 1, 0), period=None, cron="", tz="UTC") == []


def test_upcoming_lists_the_next_five_runs():
    runs = schedules.upcoming(after=utc(3, 1, 0), period=timedelta(hours=1), cron="", tz="UTC")
    assert runs == [utc(3, 1, hour) for hour in range(1, 6)]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"grace": timedelta(seconds=-1)}, "the grace time must be 0 or more"),
        (
            {"period": timedelta(hours=1), "cron": "0 2 * * *"},
            "give either a period or a cron expression, not both",
        ),
    ],
)
def test_validate_refuses_a_negative_grace_or_two_schedules(schedule, message):
    with pytest.raises(schedules.ScheduleError) as refused:
        schedules.validate(**{"period": None, "cron": "", "tz": "UTC", **schedule})
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (schedules.check_period, timedelta(0), "the period must be positive"),
        (schedules.check_grace, timedelta(days=367), "the grace time must be at most 366 days"),
    ],
)
def test_a_span_out_of_range_is_refused_in_words(check, value, message):
    with pytest.raises(schedules.ScheduleError) as refused:
        check(value)
    assert str(refused.value) == message


def test_validate_accepts_a_cron_in_its_zone_and_names_what_is_wrong():
    schedules.validate(period=None, cron="0 2 * * *", tz="Europe/Berlin")
    with pytest.raises(schedules.ScheduleError) as bad_zone:
        schedules.validate(period=None, cron="0 2 * * *", tz="Mars/Olympus")
    assert str(bad_zone.value) == "unknown time zone 'Mars/Olympus'"
    with pytest.raises(schedules.ScheduleError) as bad_cron:
        schedules.validate(period=None, cron="61 * * * *", tz="UTC")
    assert str(bad_cron.value).startswith("invalid cron expression '61 * * * *': ")


@pytest.mark.parametrize(
    ("period", "grace", "cron", "words"),
    [
        (2 * 86400, 3600, "", "every 2 d, 1 h grace"),
        (90 * 60, 0, "", "every 1 h 30 min, 0 s grace"),
        (60, 61, "", "every 1 min, 1 min 1 s grace"),
        (None, 300, "0 2 * * *", "at 02:00 (Europe/Berlin, cron '0 2 * * *'), 5 min grace"),
        (
            None,
            0,
            "*/15 * * * *",
            "every 15 minutes (Europe/Berlin, cron '*/15 * * * *'), 0 s grace",
        ),
        # Words it cannot find: the expression alone.
        (None, 300, "@daily", "cron '@daily' (Europe/Berlin), 5 min grace"),
        (None, 300, "", "default: stale after 1 d without a heartbeat"),
    ],
)
def test_a_schedule_in_words(period, grace, cron, words):
    period = None if period is None else timedelta(seconds=period)
    described = schedules.describe(
        period=period,
        cron=cron,
        tz="Europe/Berlin",
        grace=timedelta(seconds=grace),
        stale_after=timedelta(hours=24),
    )
    assert described == words


# --- the shortest period (1 minute) -----------------------------------------------------


@pytest.mark.parametrize("period", [timedelta(microseconds=1), timedelta(seconds=30)])
def test_a_period_under_a_minute_is_refused(period):
    with pytest.raises(schedules.ScheduleError, match="the period must be at least 1 min"):
        schedules.validate(period=period, cron="", tz="UTC")


@pytest.mark.parametrize("period", [timedelta(minutes=1), timedelta(days=366)])
def test_a_period_from_a_minute_to_366_days_is_accepted(period):
    schedules.validate(period=period, cron="", tz="UTC", grace=timedelta(0))


def job_form(job: JobHeartbeat, **changes: str) -> JobHeartbeatForm:
    data = {"job_name": job.job_name, "status": "healthy", "tz": "UTC", "grace": "0", **changes}
    return JobHeartbeatForm(data=data, instance=job)


def test_the_job_form_refuses_a_30_second_period(make_job):
    form = job_form(make_job("backup"), period="30")
    assert not form.is_valid()
    assert form.errors["period"] == ["The period must be at least 1 min."]


@pytest.mark.parametrize(("period", "expected"), [("60", 60), ("00:01:00", 60), ("01:00:00", 3600)])
def test_the_job_form_accepts_a_period_of_a_minute_or_more(make_job, period, expected):
    form = job_form(make_job("backup"), period=period)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["period"] == timedelta(seconds=expected)
    assert form.cleaned_data["grace"] == timedelta(0)


@pytest.mark.parametrize(
    ("period", "expected"),
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("1h", timedelta(hours=1)),
     (" 1D ", timedelta(days=1)), ("2 h", timedelta(hours=2))],
)  # fmt: skip
def test_the_job_form_accepts_periods_with_a_unit(make_job, period, expected):
    form = job_form(make_job("backup"), period=period, grace="5m")
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["period"], form.cleaned_data["grace"]) == (
        expected,
        timedelta(minutes=5),
    )


@pytest.mark.parametrize("period", ["1w", "h", "1.5h", "1h30m", "-1h"])
def test_the_job_form_refuses_other_periods_clearly(make_job, period):
    form = job_form(make_job("backup"), period=period)
    assert form.errors["period"] == [
        "Enter a duration like 90s, 15m, 1h or 1d, or as [DD] [HH:[MM:]]SS."
    ]
