from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from heartbeats import job_count
from heartbeats.domain import policy, rules, schedules
from heartbeats.models import (
    Alert,
    AlertDelivery,
    ApiKey,
    ApiRequestCount,
    CheckRun,
    Flip,
    JobHeartbeat,
    MaintenanceWindow,
    PingEvent,
)
from heartbeats.reporting import counters
from heartbeats.signals import recording, retention
from tests.conftest import T0

D = timedelta(days=1)
TICK = timedelta(microseconds=1)


@pytest.fixture
def history(make_job, clock):
    old = make_job("retired", age=40 * D)
    old.created_at = T0 - 100 * D
    old.save()
    young_but_silent = make_job("new-silent", age=40 * D)
    young_but_silent.created_at = T0 - 50 * D
    young_but_silent.save()
    kept = make_job("daily", age=D)
    PingEvent.objects.bulk_create(
        [PingEvent(job=kept, kind="success", created_at=T0 - 100 * D) for _ in range(2500)]
        + [PingEvent(job=kept, kind="success", created_at=T0 - D) for _ in range(10)]
        + [PingEvent(job=old, kind="success", created_at=T0 - 40 * D) for _ in range(5)]
    )
    finished = Alert.objects.create(job=kept, kind="down", created_at=T0 - 100 * D, done=True)
    AlertDelivery.objects.create(alert=finished, channel="slack", state="sent")
    open_alert = Alert.objects.create(job=kept, kind="failed", created_at=T0 - 100 * D)
    AlertDelivery.objects.create(alert=open_alert, channel="slack")
    Alert.objects.create(job=old, kind="down", created_at=T0 - 40 * D, done=True)
    CheckRun.objects.create(started_at=T0 - 100 * D)
    CheckRun.objects.create(started_at=T0 - D)
    for job, age in [(kept, 100 * D), (kept, D), (old, 40 * D)]:
        Flip.objects.create(job=job, created_at=T0 - age, old_status="up", new_status="down")
    key = ApiKey.objects.create(name="k", prefix="cm_", digest="0" * 64)
    for age in (timedelta(minutes=61), timedelta(minutes=1)):
        ApiRequestCount.objects.create(key=key, minute=T0 - age, count=3)


@pytest.mark.django_db
def test_prune_applies_the_policy_in_batches(history):
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("prune_heartbeats", "--batch-size", "1000", stdout=out)
    assert out.getvalue().splitlines() == [
        "  jobs: 1 deleted so far",
        "  ping events: 1005 deleted so far",
        "  ping events: 2005 deleted so far",
        "  ping events: 2505 deleted so far",
        "  alerts: 2 deleted so far",
        "  check runs: 1 deleted so far",
        "  flips: 2 deleted so far",
        "  API request counts: 1 deleted so far",
        "Deleted 2505 ping events, 1 alert deliveries, 2 alerts, 1 check runs, 2 flips, "
        "1 API request counts, 1 jobs",
    ]
    assert sorted(JobHeartbeat.objects.values_list("job_name", flat=True)) == [
        "daily", "new-silent",
    ]  # fmt: skip
    assert PingEvent.objects.count() == 10
    assert Alert.objects.get().kind == "failed"  # an unfinished alert is never pruned
    assert CheckRun.objects.count() == 1
    assert Flip.objects.get().created_at == T0 - D
    assert ApiRequestCount.objects.get().minute == T0 - timedelta(minutes=1)
    assert len(queries) < 100  # batches, not a statement per row (2,505 rows here)


@pytest.mark.django_db
def test_dry_run_lists_the_jobs_counts_and_deletes_nothing(history):
    out = StringIO()
    call_command("prune_heartbeats", "--dry-run", stdout=out)
    assert out.getvalue() == (
        "  would remove retired: last run 2026-01-21 12:00 UTC, due 2026-01-22 12:00 UTC\n"
        "Would delete 2505 ping events, 1 alert deliveries, 2 alerts, 1 check runs, 2 flips, "
        "1 API request counts, 1 jobs\n"
    )
    assert PingEvent.objects.count() == 2515
    assert JobHeartbeat.objects.count() == 3


@pytest.mark.django_db
def test_the_dry_run_names_a_scheduled_job_by_its_own_due_time():
    scheduled("report", cron="0 0 1 * *", last_run_at=JAN_1)
    assert [job.describe() for job in retention.would_remove(now=MONTHLY_GONE + TICK)] == [
        "report: last run 2026-01-01 00:00 UTC, due 2026-02-01 01:00 UTC"
    ]


@pytest.mark.django_db
def test_bad_batch_size():
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("prune_heartbeats", "--batch-size", "0")


def scheduled(name: str, *, cron: str, last_run_at: datetime, **fields) -> JobHeartbeat:
    """A job created long ago that last ran at `last_run_at`, its due time as a beat sets it."""
    due_at = schedules.due_at(
        last_run_at=last_run_at, period=None, cron=cron, tz="UTC", grace=policy.default_grace()
    )
    return JobHeartbeat.objects.create(
        job_name=name, cron=cron, last_run_at=last_run_at, due_at=due_at,
        created_at=last_run_at - 365 * D, n_runs=5, **fields,
    )  # fmt: skip


def unscheduled(name: str, *, last_run_at: datetime, **fields) -> JobHeartbeat:
    return JobHeartbeat.objects.create(
        job_name=name, last_run_at=last_run_at, created_at=last_run_at - 365 * D, n_runs=5, **fields
    )


def survivors(now: datetime) -> set[str]:
    retention.prune(now=now)
    return set(JobHeartbeat.objects.values_list("job_name", flat=True))


JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
# Due at the next run plus the 60 minutes' default grace; removed 30 days after that.
MONTHLY_GONE = datetime(2026, 2, 1, 1, 0, tzinfo=UTC) + 30 * D
QUARTERLY_GONE = datetime(2026, 4, 1, 1, 0, tzinfo=UTC) + 30 * D
UNSCHEDULED_GONE = JAN_1 + timedelta(hours=24) + 30 * D


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cron", "now", "kept"),
    [
        ("0 0 1 * *", datetime(2026, 1, 31, tzinfo=UTC), True),  # the runbook's SQL deleted it
        ("0 0 1 * *", datetime(2026, 2, 15, tzinfo=UTC), True),  # late 14 days: alerted, kept
        ("0 0 1 * *", MONTHLY_GONE, True),
        ("0 0 1 * *", MONTHLY_GONE + TICK, False),
        ("0 0 1 */3 *", datetime(2026, 3, 31, tzinfo=UTC), True),
        ("0 0 1 */3 *", QUARTERLY_GONE, True),
        ("0 0 1 */3 *", QUARTERLY_GONE + TICK, False),
    ],
)
def test_a_scheduled_job_goes_only_when_overdue_by_its_schedule_for_the_silent_days(
    cron, now, kept
):
    scheduled("report", cron=cron, last_run_at=JAN_1)
    assert survivors(now) == ({"report"} if kept else set())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "kept"), [(UNSCHEDULED_GONE, True), (UNSCHEDULED_GONE + TICK, False)]
)
def test_a_job_without_schedule_goes_after_stale_after_plus_the_silent_days(now, kept):
    unscheduled("legacy", last_run_at=JAN_1)
    assert survivors(now) == ({"legacy"} if kept else set())


@pytest.mark.django_db
def test_counts_add_up_across_batches():
    for name in ("legacy", "old"):
        alert = Alert.objects.create(
            job=unscheduled(name, last_run_at=JAN_1), kind="down", done=True, created_at=JAN_1
        )
        AlertDelivery.objects.create(alert=alert, channel="slack", state="sent")
        PingEvent.objects.create(job_id=name, kind="success", created_at=JAN_1)
        CheckRun.objects.create(started_at=JAN_1)
    progress: list[tuple[str, int]] = []
    result = retention.prune(
        now=JAN_1 + 3650 * D, batch_size=1, progress=lambda *step: progress.append(step)
    )
    assert result.deleted == {
        "ping events": 2, "alert deliveries": 2, "alerts": 2, "check runs": 2, "flips": 0,
        "API request counts": 0, "jobs": 2,
    }  # fmt: skip
    assert [step for step in progress if step[0] == "jobs"] == [("jobs", 1), ("jobs", 2)]


@pytest.mark.django_db
def test_daily_retention_corrects_a_drifted_counter_and_says_so(caplog):
    """Triggers do not fire for `session_replication_role = replica` or logical replication."""
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"job-{i}") for i in range(4))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {job_count.TABLE} SET jobs = jobs + 3 "
            f"WHERE shard = (SELECT min(shard) FROM {job_count.TABLE})"
        )
    assert job_count.total(connection) == 7
    out = StringIO()
    call_command("prune_heartbeats", stdout=out)
    assert "corrected the job counter by -3" in out.getvalue()
    assert "The job counter was off by -3; corrected" in caplog.messages
    assert job_count.total(connection) == JobHeartbeat.objects.count() == 4
    out = StringIO()
    call_command("prune_heartbeats", stdout=out)
    assert "corrected" not in out.getvalue()


@pytest.mark.django_db
def test_a_job_created_recently_stays_however_silent():
    JobHeartbeat.objects.create(job_name="new", last_run_at=JAN_1, created_at=JAN_1)
    assert survivors(JAN_1 + 90 * D) == {"new"}
    assert survivors(JAN_1 + 90 * D + TICK) == set()


@pytest.mark.django_db
def test_a_paused_job_stays_forever():
    unscheduled("paused", last_run_at=JAN_1, paused=True)
    scheduled("paused-monthly", cron="0 0 1 * *", last_run_at=JAN_1, paused=True)
    assert survivors(JAN_1 + 3650 * D) == {"paused", "paused-monthly"}


@pytest.mark.django_db
def test_a_job_with_an_undelivered_alert_stays():
    alert = Alert.objects.create(job=unscheduled("pending", last_run_at=JAN_1), kind="down")
    AlertDelivery.objects.create(alert=alert, channel="slack", state="sent")
    AlertDelivery.objects.create(alert=alert, channel="email", state="pending")
    # Done, yet a delivery still pending (a crash between the two writes).
    done = Alert.objects.create(job=unscheduled("done", last_run_at=JAN_1), kind="down", done=True)
    AlertDelivery.objects.create(alert=done, channel="slack", state="pending")
    Alert.objects.create(job=unscheduled("open", last_run_at=JAN_1), kind="down")
    assert survivors(JAN_1 + 3650 * D) == {"pending", "done", "open"}


@pytest.mark.django_db
def test_the_sql_condition_is_the_overdue_rule_at_its_boundaries(settings):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    silent = settings.RETENTION_JOB_SILENT_DAYS * D
    stale_after = policy.thresholds().stale_after
    for i, offset in enumerate((-TICK, timedelta(0), TICK)):
        unscheduled(f"plain{i}", last_run_at=now - silent - stale_after + offset)
        JobHeartbeat.objects.create(
            job_name=f"due{i}", period=D, last_run_at=JAN_1, created_at=JAN_1 - 365 * D,
            due_at=now - silent + offset,
        )  # fmt: skip
    by_rule = {
        job.job_name
        for job in JobHeartbeat.objects.all()
        if rules.overdue(
            rules.JobFacts(last_run_at=job.last_run_at, due_at=job.due_at),
            now=now,
            stale_after=stale_after,
        )
        > silent
    }
    assert by_rule == {"plain0", "due0"}
    assert set(retention.deprecated_jobs(now=now).values_list("job_name", flat=True)) == by_rule


@pytest.mark.django_db
def test_a_removed_job_takes_its_history_and_is_logged_and_in_the_admin_history(caplog):
    job = scheduled("report", cron="0 0 1 * *", last_run_at=JAN_1)
    PingEvent.objects.create(job=job, kind="success", created_at=JAN_1)
    alert = Alert.objects.create(job=job, kind="down", done=True, created_at=JAN_1 + 32 * D)
    AlertDelivery.objects.create(alert=alert, channel="slack", state="sent")
    Flip.objects.create(job=job, created_at=JAN_1 + 32 * D, old_status="up", new_status="down")
    with caplog.at_level(logging.INFO, logger="heartbeats.signals.retention"):
        result = retention.prune(now=MONTHLY_GONE + TICK)
    assert result.deleted == {
        "ping events": 1, "alert deliveries": 1, "alerts": 1, "check runs": 0, "flips": 1,
        "API request counts": 0, "jobs": 1,
    }  # fmt: skip
    line = "report: last run 2026-01-01 00:00 UTC, due 2026-02-01 01:00 UTC"
    assert caplog.messages == [f"retention removed job {line}"]
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.object_repr, entry.action_flag) == ("report", "report", DELETION)
    assert entry.content_type.model_class() is JobHeartbeat
    assert entry.change_message == f"Removed by retention ({line})."
    assert entry.user.username == retention.SYSTEM_USERNAME
    assert not entry.user.is_active and not entry.user.has_usable_password()
    retention.prune(now=MONTHLY_GONE + TICK)  # the system user is made once, then reused


@pytest.mark.django_db(transaction=True)
def test_a_job_pinged_while_its_delete_waits_is_not_deleted():
    """The DELETE re-checks the condition on the row a concurrent ping committed."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer: a ping lands wholly before or after the prune")
    scheduled("report", cron="0 0 1 * *", last_run_at=JAN_1)
    now = MONTHLY_GONE + TICK
    pinged, waiting = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def ping_then_commit_once_prune_waits() -> None:
        try:
            with transaction.atomic():
                recording.record_signal(now=now, job_name="report", create=False)
                pinged.set()
                with connection.cursor() as cursor:
                    for _ in range(500):
                        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                        if cursor.fetchone()[0]:
                            waiting.set()
                            break
                        threading.Event().wait(0.02)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    pinger = threading.Thread(target=ping_then_commit_once_prune_waits)
    pinger.start()
    assert pinged.wait(10)
    result = retention.prune(now=now)
    pinger.join(10)
    assert errors == [] and waiting.is_set()
    assert result.deleted["jobs"] == 0
    assert JobHeartbeat.objects.get().last_run_at == now


@pytest.mark.django_db(transaction=True)
def test_two_prunes_at_once_add_each_pruned_delivery_to_the_counters_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's immediate transactions serialise the two prunes")
    job = unscheduled("daily", last_run_at=JAN_1)
    now = JAN_1 + 2 * D
    for _ in range(3):
        alert = Alert.objects.create(job=job, kind="down", done=True, created_at=now - 100 * D)
        AlertDelivery.objects.create(alert=alert, channel="slack", state="sent")
    counted, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def pause_after_counting(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "COUNT(" in sql and "alertdelivery" in sql and not counted.is_set():
            counted.set()
            resume.wait(10)
        return result

    def prune(pause: bool) -> None:
        try:
            if pause:
                with connection.execute_wrapper(pause_after_counting):
                    retention.prune(now=now)
            else:
                retention.prune(now=now)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=prune, args=(True,))
    first.start()
    assert counted.wait(10)
    second = threading.Thread(target=prune, args=(False,))
    second.start()
    with connection.cursor() as cursor:
        for _ in range(500):  # until the second prune waits for the first, or has finished
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0] or not second.is_alive():
                break
            threading.Event().wait(0.02)
    resume.set()
    first.join(10)
    second.join(10)
    assert errors == []
    assert AlertDelivery.objects.count() == 0
    assert counters.totals()[("alerts_sent", "slack")] == 3


@pytest.mark.django_db
def test_a_removed_job_leaves_the_maintenance_windows_that_listed_it(history):
    window = MaintenanceWindow.objects.create(name="w", start=T0, end=T0 + D)
    window.jobs.set(JobHeartbeat.objects.filter(pk__in=["retired", "daily"]))
    retention.prune(now=T0)
    assert list(window.jobs.values_list("job_name", flat=True)) == ["daily"]
