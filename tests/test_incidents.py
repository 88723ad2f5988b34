"""Incidents, not timestamps: the anti-spam rule holds repeats about one continuing problem, a
new problem after a recovery is alerted at once, and a flapping job is alerted once. Asserted
on what the local Slack receiver got."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from heartbeats.alerts import check_run, procedures
from heartbeats.models import CheckRun, EventKind, JobHeartbeat
from heartbeats.signals import recording
from tests.admin_support import CHANGELIST, staff_client
from tests.conftest import SLACK_SECRET_PATH, received

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def check(clock) -> check_run.CheckResult:
    return check_run.run_check(now=clock.now(), trigger="manual", sleep=lambda seconds: None)


def beat(clock, name: str = "web1", *, fail: bool = False, **fields) -> None:
    kind = EventKind.FAIL if fail else EventKind.SUCCESS
    recording.record_signal(job_name=name, kind=kind, now=clock.now(), **fields)


def headlines(slack) -> list[str]:
    return [r.get_json()["text"].splitlines()[0] for r in received(slack, SLACK_SECRET_PATH)]


def test_a_failure_after_back_up_is_a_new_incident_alerted_at_once(slack_ok, email_ok, clock):
    beat(clock, fail=True)
    check(clock)
    clock.advance(minutes=5)
    beat(clock)
    check(clock)
    clock.advance(minutes=5)
    beat(clock, fail=True)
    result = check(clock)
    assert headlines(slack_ok) == ["web1 FAILED", "web1 is back up after 5 min", "web1 FAILED"]
    assert (result.alerts_sent, result.suppressed_alerts) == (1, 0)
    assert JobHeartbeat.objects.get().last_alert_at == clock.now()


@pytest.fixture
def viewer():
    return staff_client("view_jobheartbeat")


def alert_state_label(viewer, name: str = "web1") -> str:
    """The job list's alert-state badge, as its text reads."""
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    row = page[page.index(f">{name}<") :].split("</tr>")[0]
    return html.unescape(re.search(r'field-alert_state_badge"><span[^>]*>([^<]*)<', row)[1])


def test_the_alert_state_label_says_what_the_next_pass_will_do(slack_ok, email_ok, clock, viewer):
    beat(clock, fail=True)
    check(clock)
    clock.advance(minutes=5)
    beat(clock, fail=True)
    assert alert_state_label(viewer) == "Suppressed (same incident, < 6 h since last alert)"
    assert check(clock).suppressed_alerts == 1
    beat(clock)
    check(clock)
    clock.advance(minutes=5)
    beat(clock, fail=True)  # 10 min after the last alert, but a new incident
    assert alert_state_label(viewer) == "Should alert (new incident since last alert)"
    assert check(clock).alerts_sent == 1


def test_after_bulk_recover_a_new_miss_is_labelled_a_new_incident(
    slack_ok, email_ok, clock, make_job, settings, viewer
):
    settings.STALE_AFTER_HOURS = 1
    make_job("web1", age=2 * H, now=clock.now())
    check(clock)
    clock.advance(minutes=10)
    procedures.fresh_window(JobHeartbeat.objects.all(), now=clock.now())
    clock.advance(minutes=65)  # silent again: a new incident, 75 min after the alert
    assert alert_state_label(viewer) == "Should alert (new incident since last alert)"
    assert check(clock).alerts_sent == 1


def test_repeats_within_one_incident_wait_for_the_anti_spam_window(slack_ok, email_ok, clock):
    beat(clock, fail=True)
    check(clock)
    clock.advance(hours=1)
    beat(clock, fail=True)  # still failing: the same incident
    assert check(clock).suppressed_alerts == 1
    clock.advance(hours=5)
    assert check(clock).alerts_sent == 1
    assert headlines(slack_ok) == ["web1 FAILED", "web1 FAILED"]


def test_a_recovery_between_two_passes_still_ends_the_incident(slack_ok, email_ok, clock):
    beat(clock, fail=True)
    check(clock)
    clock.advance(minutes=1)
    beat(clock)
    clock.advance(minutes=1)
    beat(clock, fail=True)  # no pass saw it up, but it succeeded after the alert
    assert check(clock).alerts_sent == 1
    assert headlines(slack_ok) == ["web1 FAILED", "web1 FAILED"]


def test_a_flapping_job_gets_one_flapping_alert_then_only_anti_spam(
    slack_ok, email_ok, clock, settings
):
    settings.ALERT_SUPPRESSION_HOURS = 1
    for _ in range(8):  # an incident every 20 minutes
        beat(clock, fail=True)
        check(clock)
        clock.advance(minutes=10)
        beat(clock)
        check(clock)
        clock.advance(minutes=10)
    problems = [line for line in headlines(slack_ok) if "back up" not in line]
    assert problems == [
        *["web1 FAILED"] * 4,
        "web1 is FLAPPING: 5 incidents in 6 h, now FAILED",
        # the 6th and 7th are held by the anti-spam window; the 8th comes an hour later
        "web1 is FLAPPING: 8 incidents in 6 h, now FAILED",
    ]
    job = JobHeartbeat.objects.get()
    assert job.flapping and len(job.recent_incidents) == 8


def test_a_stable_job_is_no_longer_flapping(slack_ok, email_ok, clock, settings):
    settings.FLAP_THRESHOLD = 1
    for _ in range(2):
        beat(clock, fail=True)
        check(clock)
        clock.advance(minutes=10)
        beat(clock)
        check(clock)
    assert JobHeartbeat.objects.get().flapping
    clock.advance(hours=7)
    beat(clock, fail=True)
    check(clock)
    assert not JobHeartbeat.objects.get().flapping
    assert headlines(slack_ok)[-1] == "web1 FAILED"


def test_the_summary_accounts_for_every_job_with_a_problem(slack_ok, email_ok, clock):
    for name in ("a-down", "b-down", "c-failing", "d-back"):
        beat(clock, name)
    clock.advance(hours=20)
    beat(clock, "c-failing", fail=True)
    beat(clock, "d-back", fail=True)
    check(clock)  # alerts c-failing and d-back
    clock.advance(hours=5)
    beat(clock, "d-back")
    out = StringIO()
    call_command("run_healthcheck", stdout=out)
    assert out.getvalue() == (
        "Checked 4 jobs (manual): 3 with a problem (2 down, 1 failed), 2 of them stale: "
        "2 alerted, 1 suppressed; 1 recovery notice sent\n"
    )
    out = StringIO()
    clock.advance(hours=1)
    call_command("run_healthcheck", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["problems"], data["outcomes"]) == (
        {"down": 2, "failed": 1},
        {"sent": 1, "suppressed": 2},
    )
    assert CheckRun.objects.order_by("started_at").last().trigger == "manual"
    assert not JobHeartbeat.objects.filter(job_name=check_run.CHECKER_JOB).exists()


def test_a_check_with_nothing_wrong_says_so(slack_ok, email_ok, clock):
    beat(clock)
    assert check(clock).summary_line() == "Checked 1 job (manual): no job has a problem"
