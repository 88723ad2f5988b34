from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from heartbeats.models import EventKind, JobHeartbeat, PingEvent
from heartbeats.signals import recording
from tests.conftest import T0, at_once


def test_first_beat_creates_job_with_defaults(db):
    result = recording.record_signal(job_name="backup", now=T0)
    job = JobHeartbeat.objects.get(pk="backup")
    assert result.created
    assert (job.last_run_at, job.status, job.metadata, job.n_runs) == (T0, "healthy", {}, 1)
    assert PingEvent.objects.filter(job=job, kind="success").count() == 1


def test_beat_replaces_status_and_metadata_and_counts_runs(db):
    recording.record_signal(job_name="backup", now=T0, status="slow", metadata={"rows": 1})
    later = T0 + timedelta(hours=1)
    result = recording.record_signal(job_name="backup", now=later, status="ok", metadata={"a": [1]})
    job = JobHeartbeat.objects.get(pk="backup")
    assert not result.created
    assert (job.last_run_at, job.updated_at, job.status, job.metadata) == (
        later,
        later,
        "ok",
        {"a": [1]},
    )
    assert job.n_runs == 2
    assert job.created_at == T0


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_beats_of_one_name_all_succeed():
    def beat(i: int) -> None:
        recording.record_signal(job_name="fresh", now=T0 + timedelta(microseconds=i))

    errors = at_once(beat, 8)
    assert errors == []
    assert JobHeartbeat.objects.get(pk="fresh").n_runs == 8
    assert PingEvent.objects.filter(job_id="fresh").count() == 8
    assert connection.vendor in {"sqlite", "postgresql"}


def test_a_finish_sets_due_at_from_a_cron_schedule_in_the_jobs_zone(make_job):
    job = make_job("nightly", cron="30 2 * * *", tz="Europe/Berlin", grace=timedelta(minutes=20))
    friday_run = datetime(2026, 3, 28, 1, 30, tzinfo=UTC)  # 02:30 CET
    result = recording.record_signal(job_name=job.job_name, now=friday_run)
    # 02:30 does not exist on 29 March in Berlin: the run is expected at 03:00 CEST.
    expected = datetime(2026, 3, 29, 1, 20, tzinfo=UTC)
    assert result.job.due_at == JobHeartbeat.objects.get(pk="nightly").due_at == expected


def test_a_finish_sets_due_at_from_a_period_and_default_grace(make_job, settings):
    settings.DEFAULT_GRACE_MINUTES = 2
    job = make_job("every-5-min", period=timedelta(minutes=5))
    recording.record_signal(job_name=job.job_name, now=T0, kind=EventKind.FAIL)
    assert JobHeartbeat.objects.get(pk=job.pk).due_at == T0 + timedelta(minutes=7)


def test_start_and_log_leave_due_at_alone(make_job):
    job = make_job("every-5-min", period=timedelta(minutes=5), due_at=T0)
    for kind in (EventKind.START, EventKind.LOG):
        recording.record_signal(job_name=job.job_name, now=T0 + timedelta(minutes=1), kind=kind)
    assert JobHeartbeat.objects.get(pk=job.pk).due_at == T0


def test_a_job_without_schedule_gets_no_due_at(db):
    assert recording.record_signal(job_name="backup", now=T0).job.due_at is None


def test_signals_find_a_job_by_uuid(make_job):
    job = make_job("backup")
    result = recording.record_signal(job_uuid=job.uuid, now=T0 + timedelta(hours=1))
    assert (result.job.job_name, result.created) == ("backup", False)
    assert recording.record_signal(job_uuid=uuid.uuid4(), now=T0) is None


def test_a_created_jobs_uuid_is_found_by_the_orm(db):
    """The upsert writes the UUID in the column's own format (32 hex digits on SQLite)."""
    created = recording.record_signal(job_name="backup", now=T0).job
    assert JobHeartbeat.objects.get(uuid=created.uuid).job_name == "backup"


def test_bodies_are_clipped_to_the_limit_and_made_storable(db, settings):
    settings.PING_BODY_LIMIT = 5
    event = recording.record_signal(job_name="backup", now=T0, body="ab\x00déf").event
    assert PingEvent.objects.get(pk=event.pk).body == "ab\ufffdd"


def events_per_job() -> dict[str, list[int]]:
    kept: dict[str, list[int]] = {}
    for job_id, event_id in PingEvent.objects.order_by("job_id", "id").values_list("job", "id"):
        kept.setdefault(job_id, []).append(event_id)
    return kept


def add_events(job: JobHeartbeat, count: int, *, start=T0, step=timedelta(minutes=1)) -> list:
    return [
        PingEvent.objects.create(job=job, kind="success", created_at=start + step * i).pk
        for i in range(count)
    ]


def test_prune_keeps_the_newest_events_of_every_job(make_job):
    busy, quiet, silent = make_job("busy"), make_job("quiet"), make_job("silent")
    # Inserted newest first, so ids and times disagree: time decides.
    busy_ids = add_events(busy, 6, start=T0 + timedelta(hours=1), step=-timedelta(minutes=1))
    quiet_ids = add_events(quiet, 2)
    assert recording.prune_events(keep=3) == 3
    assert events_per_job() == {"busy": busy_ids[:3], "quiet": quiet_ids}
    assert silent.events.count() == 0
    assert recording.prune_events(keep=3) == 0


def test_prune_breaks_ties_in_time_by_insertion_order(make_job):
    ids = add_events(make_job("burst"), 4, step=timedelta(0))
    assert recording.prune_events(keep=2) == 2
    assert events_per_job() == {"burst": ids[2:]}


def test_prune_runs_in_batches_of_two_queries_whatever_the_number_of_jobs(
    make_job, django_assert_num_queries
):
    for name in ("a", "b", "c", "d"):
        add_events(make_job(name), 5)
    # 12 surplus events in batches of 5: three batches, then one query that finds none.
    with django_assert_num_queries(3 * 2 + 1):
        assert recording.prune_events(keep=2, batch_size=5) == 12
    assert {job: len(ids) for job, ids in events_per_job().items()} == dict.fromkeys("abcd", 2)


def test_prune_since_touches_only_jobs_with_recent_events(make_job):
    old_ids = add_events(make_job("old"), 5, start=T0 - timedelta(days=1))
    recent_ids = add_events(make_job("recent"), 5)
    assert recording.prune_events(keep=2, since=T0) == 3
    assert events_per_job() == {"old": old_ids, "recent": recent_ids[3:]}


def test_the_checker_caps_events_of_jobs_pinged_since_its_last_run(make_job, settings, clock):
    from heartbeats.alerts import check_run

    settings.PING_EVENTS_KEPT = 3
    settings.SLACK_WEBHOOK_URL = ""
    check_run.run_check(now=clock.now())
    clock.advance(hours=1)
    for _ in range(5):
        recording.record_signal(job_name="chatty", now=clock.now())
        clock.advance(seconds=1)
    check_run.run_check(now=clock.now())
    assert PingEvent.objects.filter(job_id="chatty").count() == 3
