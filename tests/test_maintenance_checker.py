"""The checker and maintenance windows: no problem alert for a covered job while a window is
open, the alert when it closes if the job is still down, nothing if it recovered inside, and the
deliveries that were waiting dropped. Alerts go to a real local HTTP server; time moves with
the clock fixture."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heartbeats.alerts import check_run
from heartbeats.alerts.check_run_result import JobOutcome
from heartbeats.models import Alert, AlertDelivery, CheckRun, JobHeartbeat, MaintenanceWindow
from heartbeats.signals import recording
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def yearly_checker(settings):
    """Passes hours apart are then not a monitoring outage."""
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 1 *"


@pytest.fixture
def slack_only(channels, settings):
    settings.RESEND_API_KEY = ""
    return channels


def check(now: datetime) -> check_run.CheckResult:
    return check_run.run_check(now=now, trigger="manual", sleep=lambda seconds: None)


def slack_headlines(server) -> list[str]:
    return [r.get_json()["text"].splitlines()[0] for r in received(server, SLACK_SECRET_PATH)]


def one_off(start: datetime, end: datetime, *, jobs=(), **fields) -> MaintenanceWindow:
    window = MaintenanceWindow.objects.create(name="deploy", start=start, end=end, **fields)
    window.jobs.set(jobs)
    return window


def test_a_job_going_down_inside_a_window_is_alerted_when_the_window_closes(
    make_job, slack_ok, email_ok, clock
):
    job = make_job("backup", age=H, period=H, grace=10 * M, due_at=T0 + 10 * M)
    one_off(T0, T0 + 2 * H, jobs=[job])
    result = check(clock.set(T0 + 30 * M))
    assert result.summary_line() == (
        "Checked 1 job (manual): 1 with a problem (1 down), 1 of them stale: 1 in maintenance"
    )
    assert result.jobs == [JobOutcome("backup", "maintenance", "in maintenance until 14:00 UTC")]
    check(clock.set(T0 + 2 * H - M))
    assert received(slack_ok, SLACK_SECRET_PATH) == []
    check(clock.set(T0 + 2 * H))
    assert slack_headlines(slack_ok) == ["backup is DOWN: no heartbeat, 1 h 50 min overdue"]
    assert JobHeartbeat.objects.get().last_alert_at == T0 + 2 * H


def test_a_job_that_recovers_inside_the_window_sends_nothing_and_its_ping_is_recorded(
    make_job, slack_ok, email_ok, clock
):
    job = make_job("backup", age=2 * H, period=2 * H, grace=10 * M, due_at=T0 + 10 * M)
    one_off(T0, T0 + 2 * H, jobs=[job])
    check(clock.set(T0 + 30 * M))
    recording.record_signal(job_name="backup", now=clock.set(T0 + 40 * M))
    assert JobHeartbeat.objects.get().n_runs == 2
    assert check(clock.set(T0 + 50 * M)).summary_line().endswith("no job has a problem")
    check(clock.set(T0 + 2 * H))
    assert received(slack_ok, SLACK_SECRET_PATH) == []
    assert not Alert.objects.exists()


def test_a_window_covers_its_chosen_jobs_and_the_jobs_with_its_tags_only(
    make_job, slack_ok, email_ok, clock
):
    named = make_job("named", age=30 * H)
    make_job("db-dump", age=30 * H, tags="nightly db")
    make_job("db-eu-dump", age=30 * H, tags="db.eu")  # another tag, not "db"
    one_off(T0 - H, T0 + H, jobs=[named], tags="db")
    result = check(T0)
    assert sorted((o.job_name, o.action) for o in result.jobs) == [
        ("db-dump", "maintenance"),
        ("db-eu-dump", "sent"),
        ("named", "maintenance"),
    ]
    assert slack_headlines(slack_ok) == ["db-eu-dump is DOWN: no heartbeat, 6 h overdue"]


def test_a_window_over_every_job_holds_them_all_and_is_no_monitoring_outage(
    make_job, slack_ok, email_ok, clock
):
    for n in range(8):
        make_job(f"job-{n}", age=H, period=H, grace=10 * M, due_at=T0 + 10 * M)
    one_off(T0, T0 + 2 * H, all_jobs=True)
    check(T0)
    result = check(clock.set(T0 + 30 * M))  # all eight went down since the previous check
    assert (result.outcomes(), result.outage) == ({"maintenance": 8}, "")
    assert received(slack_ok, SLACK_SECRET_PATH) == []


def test_a_recurring_window_follows_the_wall_clock_across_the_spring_dst_change(
    make_job, slack_ok, email_ok, clock
):
    """Sunday 01:00 to 04:00 Europe/Berlin; on 2026-03-29 it closes at 02:00 UTC (04:00 CEST),
    not at 03:00 UTC as the winter offset would have it."""
    opened_at = clock.set(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    make_job("backup", age=30 * H, now=opened_at)
    MaintenanceWindow.objects.create(
        name="Sunday nights", days="sun", time_from=time(1), time_to=time(4),
        tz="Europe/Berlin", all_jobs=True,
    )  # fmt: skip
    held = check(opened_at)
    assert held.jobs == [JobOutcome("backup", "maintenance", "in maintenance until 02:00 UTC")]
    check(clock.set(datetime(2026, 3, 29, 1, 59, tzinfo=UTC)))
    assert received(slack_ok, SLACK_SECRET_PATH) == []
    check(clock.set(datetime(2026, 3, 29, 2, 0, tzinfo=UTC)))
    assert slack_headlines(slack_ok) == ["backup is DOWN: no heartbeat, 7 h 30 min overdue"]


def test_a_problem_alert_waiting_for_a_retry_is_dropped_when_a_window_opens(
    make_job, slack_only, clock
):
    job = make_job("backup", age=30 * H)
    slack_only.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("down", status=500)
    check(T0)
    assert AlertDelivery.objects.get().state == "pending"
    one_off(T0 + M, T0 + H, jobs=[job])  # opens after the alert was decided
    slack_only.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    result = check(clock.set(T0 + 10 * M))  # the retry is due, inside the window
    assert result.jobs == [JobOutcome("backup", "maintenance", "in maintenance until 13:00 UTC")]
    assert AlertDelivery.objects.get().state == "expired"
    assert Alert.objects.get().done
    assert len(received(slack_only, SLACK_SECRET_PATH)) == 1
    check(clock.set(T0 + H))  # still down when it closes: a fresh alert
    assert len(received(slack_only, SLACK_SECRET_PATH)) == 2
    assert JobHeartbeat.objects.get().last_alert_at == T0 + H


def test_a_recovery_inside_a_window_is_still_announced(make_job, slack_ok, email_ok, clock):
    """A window holds problem alerts only: a job alerted before it that recovers says so."""
    job = make_job("backup", age=M, alerted=True, last_alert_at=T0 - 2 * H)
    one_off(T0 - H, T0 + H, jobs=[job])
    assert check(T0).recoveries_sent == 1
    assert slack_headlines(slack_ok) == ["backup is back up"]


def test_a_pass_with_windows_costs_the_same_statements_for_any_number_of_covered_jobs(
    slack_ok, email_ok, settings
):
    settings.OUTAGE_MIN_JOBS = 10_000

    def statements(covered: int, now: datetime) -> int:
        Alert.objects.all().delete()
        CheckRun.objects.all().delete()
        JobHeartbeat.objects.all().delete()
        MaintenanceWindow.objects.all().delete()
        stale = now - 30 * H
        JobHeartbeat.objects.bulk_create(
            [JobHeartbeat(job_name=f"db-{i}", last_run_at=stale, tags="db") for i in range(covered)]
            + [JobHeartbeat(job_name=f"web-{i}", last_run_at=stale) for i in range(2)]
        )
        one_off(now - H, now + H, jobs=JobHeartbeat.objects.filter(pk="web-0"), tags="db")
        one_off(now - H, now + 2 * H, tags="other")
        MaintenanceWindow.objects.create(
            name="nightly", days="mon tue", time_from=time(0), time_to=time(23), tags="db"
        )
        with CaptureQueriesContext(connection) as captured:
            result = check(now)
        assert result.outcomes() == {"maintenance": covered + 1, "sent": 1}
        return len(captured)

    # 150: the flips to down of every covered job still fit one SQLite insert batch.
    assert statements(8, T0) == statements(150, T0 + 3 * H)
