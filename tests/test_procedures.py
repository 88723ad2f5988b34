"""The runbook's procedures as services: what the admin actions and buttons call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heartbeats.alerts import check_run, procedures
from heartbeats.models import JobHeartbeat
from heartbeats.reporting import summary_figures
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def yearly_checker(settings):
    """A checker scheduled once a year: a day without a pass is not a monitoring outage."""
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 1 *"


def check(now) -> check_run.CheckResult:
    return check_run.run_check(now=now, trigger="manual", sleep=lambda seconds: None)


def slack_headlines(slack) -> list[str]:
    return [r.get_json()["text"].splitlines()[0] for r in received(slack, SLACK_SECRET_PATH)]


def test_bulk_recover_gives_a_fresh_window_and_keeps_the_real_last_run(make_job):
    make_job("hourly", age=3 * H, period=H, grace=H / 2, due_at=T0 - 90 * timedelta(minutes=1))
    make_job("daily", age=30 * H, status="degraded", last_outcome="fail")
    make_job("fresh", age=H)
    make_job("paused", age=30 * H, paused=True, status="maintenance")
    assert procedures.bulk_recover(now=T0) == ["daily", "hourly"]
    hourly = JobHeartbeat.objects.get(pk="hourly")
    assert (hourly.last_run_at, hourly.due_at, hourly.watched_since) == (
        T0 - 3 * H,
        T0 + H + H / 2,
        T0,
    )
    daily = JobHeartbeat.objects.get(pk="daily")
    assert (daily.last_run_at, daily.status, daily.due_at) == (T0 - 30 * H, "degraded", None)
    paused = JobHeartbeat.objects.get(pk="paused")
    assert (paused.status, paused.watched_since) == ("maintenance", None)


def test_bulk_recovered_jobs_are_alerted_only_when_they_miss_again(
    make_job, slack_ok, email_ok, clock, yearly_checker
):
    make_job("hourly", age=3 * H, period=H, grace=H / 2, due_at=T0 - H / 2, last_alert_at=T0 - H)
    make_job("daily", age=30 * H, last_alert_at=T0 - H)
    procedures.bulk_recover(now=T0)
    assert check(T0).summary_line() == "Checked 2 jobs (manual): no job has a problem"
    clock.advance(hours=1.5, seconds=1)  # hourly misses its fresh window: a new incident
    check(clock.now())
    clock.set(T0 + 24 * H + timedelta(seconds=1))
    check(clock.now())
    first, *later = slack_headlines(slack_ok)
    assert first == "hourly is DOWN: no heartbeat, 1 s overdue"
    assert sorted(later) == [
        "daily is DOWN: no heartbeat, 1 s overdue",
        "hourly is DOWN: no heartbeat, 22 h 30 min overdue",  # the anti-spam window has passed
    ]


def test_a_resumed_job_is_judged_from_its_resumption(
    make_job, slack_ok, email_ok, clock, yearly_checker
):
    make_job("unscheduled", age=48 * H, paused=True)
    make_job("started", age=H, paused=True, last_start_at=T0 - 2 * H, run_deadline=T0 - H)
    assert procedures.set_paused(JobHeartbeat.objects.all(), paused=False, now=T0) == 2
    assert check(T0).summary_line() == "Checked 2 jobs (manual): no job has a problem"
    assert summary_figures.stale_jobs(now=T0) == []  # the summary page agrees with the checker
    assert JobHeartbeat.objects.get(pk="started").run_deadline == T0 + H
    clock.advance(hours=1, seconds=1)
    check(clock.now())
    assert slack_headlines(slack_ok) == ["started started but has not finished"]
    clock.set(T0 + 24 * H + timedelta(seconds=1))
    check(clock.now())
    assert "unscheduled is DOWN: no heartbeat, 1 s overdue" in slack_headlines(slack_ok)


def test_resume_and_bulk_recover_share_one_fresh_window(make_job):
    make_job("a", age=30 * H, paused=True, last_outcome="fail", alerted=True)
    make_job("b", age=30 * H, last_outcome="fail", alerted=True)
    procedures.set_paused(JobHeartbeat.objects.filter(pk="a"), paused=False, now=T0)
    procedures.bulk_recover(now=T0)
    rows = JobHeartbeat.objects.order_by("pk").values_list(
        "watched_since", "last_outcome", "alerted", "paused"
    )
    assert list(rows) == [(T0, "success", False, False)] * 2


def test_silence_holds_every_alert_until_it_ends_then_they_go_out(
    make_job, slack_ok, email_ok, clock
):
    make_job("down", age=30 * H)
    make_job("failing", age=H, last_outcome="fail")
    procedures.silence_all(now=T0, until=T0 + 2 * H)
    result = check(T0)
    assert result.summary_line() == (
        "Checked 2 jobs (manual): 2 with a problem (1 down, 1 failed), 1 of them stale: 2 silenced"
    )
    assert received(slack_ok, SLACK_SECRET_PATH) == []
    assert set(JobHeartbeat.objects.values_list("last_alert_at", flat=True)) == {None}
    clock.advance(hours=2)
    check(clock.now())
    assert sorted(slack_headlines(slack_ok)) == [
        "down is DOWN: no heartbeat, 8 h overdue",
        "failing FAILED",
    ]


def test_unsilence_lets_the_next_pass_alert(make_job, slack_ok, email_ok, clock):
    make_job("down", age=30 * H)
    procedures.silence_all(now=T0, until=T0 + 6 * H)
    check(T0)
    assert procedures.unsilence(now=T0 + H)
    assert not procedures.unsilence(now=T0 + H)
    check(T0 + H)
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1


def test_bulk_recover_queries_do_not_grow_with_scheduled_jobs(make_job):
    def recover(count: int, now) -> int:
        JobHeartbeat.objects.all().delete()
        for i in range(count):
            make_job(f"job-{i}", age=3 * H, now=now, period=H, due_at=now - H)
        with CaptureQueriesContext(connection) as queries:
            assert len(procedures.bulk_recover(now=now)) == count
        return len(queries)

    assert recover(2, T0) == recover(20, T0 + H)
