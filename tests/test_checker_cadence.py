"""The checker at its every-minute default: alerts within a minute of a deadline, and a few
missed minutes never taken for an outage (one threshold for the guard, banner and /healthz)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from heartbeats.alerts import check_run
from heartbeats.domain import schedules
from heartbeats.models import Alert, CheckRun
from heartbeats.reporting import summary_figures
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
FLOOR = timedelta(minutes=15)


def run(now, trigger: str = "cron") -> check_run.CheckResult:
    return check_run.run_check(now=now, trigger=trigger, sleep=lambda seconds: None)


def test_a_scheduled_job_is_alerted_by_the_first_pass_after_its_grace(
    make_job, slack_ok, email_ok, settings
):
    """Passes come when the default HEALTHCHECK_SCHEDULE puts them, as cron would start them."""
    deadline = T0 + 2 * MINUTE  # one-minute period, one-minute grace, last run at T0
    make_job("every-minute", period=MINUTE, grace=MINUTE, due_at=deadline)
    passes = schedules.cron_runs(settings.HEALTHCHECK_SCHEDULE, settings.TIME_ZONE, T0)
    for moment in passes:
        if run(moment).alerts_sent:
            break
    assert moment == deadline + MINUTE
    assert Alert.objects.get().kind == "down"
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1


@pytest.mark.parametrize(
    ("away", "outage"),
    [
        (2 * MINUTE, ""),
        (FLOOR, ""),
        (FLOOR + timedelta(seconds=1), "the checker did not run for 15 min 1 s"),
    ],
)
def test_a_few_missed_minutes_are_not_an_outage(make_job, slack_ok, email_ok, away, outage):
    make_job("fresh")
    run(T0)
    assert run(T0 + away).outage == outage


@pytest.mark.parametrize("away", [FLOOR, FLOOR + timedelta(seconds=1)])
def test_the_guard_the_banner_and_healthz_share_one_threshold(
    make_job, slack_ok, email_ok, client, clock, away
):
    make_job("fresh")
    run(clock.now())
    clock.advance(seconds=away.total_seconds())
    overdue = summary_figures.checker_status(now=clock.now()).problem == "overdue"
    healthz = client.get("/healthz")
    assert healthz.json()["checker_deadline"] == "2026-03-02T12:15:00Z"
    assert (healthz.status_code == 503) is overdue
    assert bool(run(clock.now()).outage) is overdue
    assert overdue is (away > FLOOR)


def test_the_lighter_six_hourly_schedule_keeps_two_periods(six_hourly_checker, make_job):
    make_job("fresh")
    run(T0)
    deadline = summary_figures.checker_status(now=T0).deadline
    assert deadline == T0 + timedelta(hours=12, minutes=5)


def test_a_manual_run_neither_hides_nor_reports_a_crontab_gap(make_job, slack_ok, email_ok):
    make_job("fresh")
    run(T0)
    manual = run(T0 + timedelta(hours=1), trigger="manual")
    assert manual.outage == ""
    after = run(T0 + timedelta(hours=1, minutes=1))
    assert after.outage == "the checker did not run for 1 h 1 min"
    (notice,) = received(slack_ok, SLACK_SECRET_PATH)
    assert notice.get_json()["text"].startswith("Possible monitoring outage")
    assert CheckRun.objects.filter(grace_until__isnull=False).count() == 1


def checks() -> str:
    err = StringIO()
    call_command("check", stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_jobs_faster_than_the_checker_are_a_system_check_warning(make_job, settings):
    settings.HEALTHCHECK_SCHEDULE = "0 */6 * * *"
    settings.DEFAULT_GRACE_MINUTES = 60
    for i in range(7):
        make_job(f"five-min-{i}", period=timedelta(minutes=5), grace=timedelta(minutes=10))
    make_job("default-grace", period=timedelta(hours=1))  # 1 h + 1 h default grace < 6 h
    make_job("cron-job", cron="*/10 * * * *", grace=timedelta(minutes=30))
    make_job("daily", period=timedelta(days=1))
    make_job("just-enough", period=timedelta(hours=5), grace=timedelta(hours=1))
    make_job("slow-cron", cron="0 3 * * *", grace=MINUTE)
    make_job("paused", period=MINUTE, paused=True)
    make_job("unscheduled")
    err = checks()
    assert "heartbeats.W005" in err
    assert (
        "9 jobs (cron-job, default-grace, five-min-0, five-min-1, five-min-2 and 4 more) expect "
        "a run sooner than the checker passes: period plus grace is under 6:00:00 (the longest "
        "wait of HEALTHCHECK_SCHEDULE '0 */6 * * *')."
    ) in err
    for name in ("daily", "just-enough", "slow-cron", "paused", "unscheduled", "five-min-6"):
        assert name not in err


def test_at_the_every_minute_default_no_job_outpaces_the_checker(make_job):
    make_job("every-minute", period=MINUTE, grace=timedelta(0))
    assert "heartbeats.W005" not in checks()
