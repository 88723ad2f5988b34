"""When a maintenance window is open, in a zone's wall time across DST changes, and which jobs
it covers: the rules, and the SQL that picks the covered jobs for a whole pass agreeing with
them row by row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeats.domain import maintenance
from heartbeats.models import JobHeartbeat, MaintenanceWindow
from tests.conftest import T0

H = timedelta(hours=1)
S = timedelta(seconds=1)


def window(**fields) -> maintenance.Window:
    values = {
        "id": uuid.uuid4(), "name": "w", "start": None, "end": None, "days": "",
        "time_from": None, "time_to": None, "tz": "UTC", "tags": "", "all_jobs": True,
    }  # fmt: skip
    return maintenance.Window(**{**values, **fields})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_one_off_window_is_open_from_its_start_until_just_before_its_end():
    one_off = window(start=T0, end=T0 + H)
    assert maintenance.open_until(one_off, now=T0 - S) is None
    assert maintenance.open_until(one_off, now=T0) == T0 + H
    assert maintenance.open_until(one_off, now=T0 + H - S) == T0 + H
    assert maintenance.open_until(one_off, now=T0 + H) is None


def test_a_recurring_window_may_cross_midnight_and_belongs_to_the_day_it_starts():
    saturday_night = window(days="sat", time_from=time(22), time_to=time(2))
    # 2026-03-07 is a Saturday.
    assert maintenance.open_until(saturday_night, now=utc(2026, 3, 7, 21, 59)) is None
    assert maintenance.open_until(saturday_night, now=utc(2026, 3, 7, 22)) == utc(2026, 3, 8, 2)
    assert maintenance.open_until(saturday_night, now=utc(2026, 3, 8, 1, 59)) == utc(2026, 3, 8, 2)
    assert maintenance.open_until(saturday_night, now=utc(2026, 3, 8, 2)) is None
    assert maintenance.open_until(saturday_night, now=utc(2026, 3, 9, 1)) is None  # Monday


def test_a_recurring_window_keeps_its_wall_time_across_both_dst_changes():
    """Sunday 01:00 to 04:00 in Berlin: three hours on a plain Sunday, two when the clocks go
    forward (last Sunday of March), four when they go back (last Sunday of October)."""
    sunday_night = window(days="sun", time_from=time(1), time_to=time(4), tz="Europe/Berlin")
    # A plain winter Sunday: 01:00 CET is 00:00 UTC, 04:00 CET is 03:00 UTC.
    assert maintenance.open_until(sunday_night, now=utc(2026, 3, 22, 0)) == utc(2026, 3, 22, 3)
    # 2026-03-29: 01:00 CET is 00:00 UTC, 04:00 CEST is 02:00 UTC.
    assert maintenance.open_until(sunday_night, now=utc(2026, 3, 28, 23, 59)) is None
    assert maintenance.open_until(sunday_night, now=utc(2026, 3, 29, 0)) == utc(2026, 3, 29, 2)
    assert maintenance.open_until(sunday_night, now=utc(2026, 3, 29, 2)) is None
    # 2026-10-25: 01:00 CEST is 23:00 UTC on Saturday, 04:00 CET is 03:00 UTC.
    assert maintenance.open_until(sunday_night, now=utc(2026, 10, 24, 22, 59)) is None
    assert maintenance.open_until(sunday_night, now=utc(2026, 10, 24, 23)) == utc(2026, 10, 25, 3)
    assert maintenance.open_until(sunday_night, now=utc(2026, 10, 25, 2, 59)) == utc(
        2026, 10, 25, 3
    )
    assert maintenance.open_until(sunday_night, now=utc(2026, 10, 25, 3)) is None


def test_the_next_opening_is_in_wall_time_too():
    sunday_night = window(days="sun", time_from=time(1), time_to=time(4), tz="Europe/Berlin")
    after_spring = maintenance.next_start(sunday_night, now=utc(2026, 3, 29, 2))
    assert after_spring == utc(2026, 4, 4, 23)  # 01:00 CEST
    assert maintenance.next_start(window(start=T0, end=T0 + H), now=T0) is None


def test_a_window_that_reopens_as_it_closes_is_open_through_both():
    nights = window(days="mon tue", time_from=time(20), time_to=time(20))  # a whole day each
    assert maintenance.open_until(nights, now=utc(2026, 3, 2, 21)) == utc(2026, 3, 4, 20)


def test_a_window_covers_every_job_its_listed_jobs_or_the_jobs_with_one_of_its_tags():
    tagged = window(all_jobs=False, tags="db nightly")
    assert maintenance.covers(tagged, job_tags_text="web nightly", listed=False)
    assert not maintenance.covers(tagged, job_tags_text="database nightly-2", listed=False)
    assert maintenance.covers(tagged, job_tags_text="", listed=True)
    assert maintenance.covers(window(), job_tags_text="", listed=False)


# Generated windows and jobs around T0 (a Monday, 12:00 UTC), the edges offered first.
OFFSETS = st.sampled_from([-H, -S, 0 * S, S, H]) | st.integers(-48, 48).map(lambda h: h * H)
TAGS = st.lists(st.sampled_from(["db", "web", "nightly", "db.eu"]), max_size=2).map(" ".join)
ONE_OFF = st.builds(
    lambda start, length: {"start": T0 + start, "end": T0 + start + length},
    OFFSETS, st.sampled_from([S, H, 24 * H]),
)  # fmt: skip
RECURRING = st.fixed_dictionaries(
    {
        "days": st.lists(
            st.sampled_from(maintenance.DAYS), min_size=1, max_size=3, unique=True
        ).map(" ".join),
        "time_from": st.sampled_from([time(0), time(11, 59, 59), time(12), time(22)]),
        "time_to": st.sampled_from([time(0), time(12), time(12, 0, 1), time(2)]),
        "tz": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    }
)
GENERATED_WINDOW = st.tuples(
    ONE_OFF | RECURRING, TAGS, st.booleans(), st.lists(st.integers(0, 5), max_size=3)
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(
    windows=st.lists(GENERATED_WINDOW, min_size=1, max_size=4),
    job_tags=st.lists(TAGS, min_size=6, max_size=6),
    moment=OFFSETS,
)
def test_the_sql_twin_agrees_with_the_rules_on_generated_windows_and_jobs(
    windows, job_tags, moment
):
    """Each job's "in maintenance until" from `until_case` (one SQL expression over every row)
    is the latest end among the open windows covering it, as `job_until` says in Python."""
    MaintenanceWindow.objects.all().delete()
    JobHeartbeat.objects.all().delete()
    jobs = JobHeartbeat.objects.bulk_create(
        JobHeartbeat(job_name=f"j{n}", tags=text, last_run_at=T0) for n, text in enumerate(job_tags)
    )
    listed_in: dict[str, set] = {job.job_name: set() for job in jobs}
    for n, (when, tags, all_jobs, listed) in enumerate(windows):
        made = MaintenanceWindow.objects.create(name=f"w{n}", tags=tags, all_jobs=all_jobs, **when)
        made.jobs.set([jobs[i] for i in listed])
        for i in listed:
            listed_in[jobs[i].job_name].add(made.id)
    now = T0 + moment
    opened = maintenance.open_windows(now=now)
    annotated = JobHeartbeat.objects.annotate(until=maintenance.until_case(opened))
    in_maintenance = set(
        JobHeartbeat.objects.filter(maintenance.in_maintenance_q(opened)).values_list(
            "job_name", flat=True
        )
    )
    every = [
        maintenance.from_row(row) for row in MaintenanceWindow.objects.values(*maintenance.FIELDS)
    ]
    for job in annotated:
        expected = maintenance.job_until(
            every, now=now, job_tags_text=job.tags, listed_in=listed_in[job.job_name]
        )
        assert job.until == expected, job.job_name
        assert (job.job_name in in_maintenance) == (expected is not None), job.job_name


def test_a_window_in_a_zone_that_does_not_exist_never_opens_rather_than_break_the_checker():
    lost = window(
        days=" ".join(maintenance.DAYS), time_from=time(0), time_to=time(0), tz="Mars/Base"
    )
    assert maintenance.open_until(lost, now=T0) is None


def test_a_one_off_window_next_opens_at_its_start_until_it_has_started():
    one_off = window(start=T0, end=T0 + H)
    assert maintenance.next_start(one_off, now=T0 - S) == T0
    assert maintenance.next_start(one_off, now=T0) is None


def test_the_silence_is_left_out_of_the_maintenance_windows_and_gives_its_own_end():
    silence = window(start=T0, end=T0 + 2 * H, silence=True)
    deploy = window(start=T0, end=T0 + H)
    opened = [(silence, T0 + 2 * H), (deploy, T0 + H)]
    assert maintenance.maintenance_only(opened) == [(deploy, T0 + H)]
    assert maintenance.silence_end(opened) == T0 + 2 * H
    assert maintenance.silence_end([(deploy, T0 + H)]) is None
