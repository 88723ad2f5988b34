from __future__ import annotations

import json
import logging
import math
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from werkzeug import Response

from heartbeats.alerts import check_run, content
from heartbeats.models import Alert, AlertDelivery, CheckRun, Flip, JobHeartbeat, PingEvent
from tests.conftest import RESEND_SECRET_KEY, SLACK_SECRET_PATH, T0, received

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]

H = timedelta(hours=1)


def run(**kwargs) -> check_run.CheckResult:
    kwargs.setdefault("now", T0)
    return check_run.run_check(sleep=lambda seconds: None, **kwargs)


@pytest.mark.parametrize(
    ("age", "alerted"),
    [
        (24 * H - timedelta(seconds=1), False),
        (24 * H, False),
        (24 * H + timedelta(seconds=1), True),
    ],
)
def test_stale_boundary_at_24_hours(make_job, slack_ok, email_ok, age, alerted):
    make_job("backup", age=age)
    result = run()
    assert (result.stale_jobs, result.alerts_sent) == ((1, 1) if alerted else (0, 0))


@pytest.mark.parametrize(
    ("since_alert", "suppressed"),
    [(6 * H - timedelta(seconds=1), True), (6 * H, False), (6 * H + timedelta(seconds=1), False)],
)
def test_suppression_boundary_at_6_hours(make_job, slack_ok, email_ok, since_alert, suppressed):
    make_job("backup", age=30 * H, last_alert_at=T0 - since_alert)
    result = run()
    assert result.suppressed_alerts == (1 if suppressed else 0)
    assert result.alerts_sent == (0 if suppressed else 1)


def test_thresholds_come_from_settings(make_job, slack_ok, email_ok, settings):
    settings.STALE_AFTER_HOURS = 2
    settings.ALERT_SUPPRESSION_HOURS = 1
    make_job("hourly", age=3 * H, last_alert_at=T0 - 2 * H)
    assert run().alerts_sent == 1


def test_suppression_is_logged_with_its_reason(make_job, channels, caplog):
    make_job("backup", age=30 * H, last_alert_at=T0 - timedelta(hours=2.3))
    with caplog.at_level(logging.INFO, logger="heartbeats"):
        run()
    assert "Suppressing alert for backup (same incident, last alert 2 h ago)" in caplog.messages


def test_a_dry_run_logs_what_it_would_suppress(make_job, channels, caplog):
    make_job("backup", age=30 * H, last_alert_at=T0 - timedelta(minutes=20))
    with caplog.at_level(logging.INFO, logger="heartbeats"):
        run(dry_run=True)
    assert caplog.messages == [
        "Would suppress alert for backup (same incident, last alert 20 min ago)"
    ]


def test_slack_request_as_the_webhook_receives_it(make_job, slack_ok, email_ok, clock):
    make_job("nightly-backup", age=26 * H, status="degraded")
    run()
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    body = request.get_json()
    assert body["text"].startswith("nightly-backup is DOWN: no heartbeat, 2 h overdue")
    assert "Last run: 2026-03-01 10:00 UTC" in body["text"]
    assert "\nReported status: degraded\n" in body["text"]
    assert "\nStatus:" not in body["text"]
    assert "State: down: no heartbeat by its due time" in body["text"]
    assert "Last alert: never alerted" in body["text"]
    link = "https://cron.example.com/admin/heartbeats/jobheartbeat/nightly-backup/change/"
    assert link in body["text"]
    assert body["blocks"][0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "nightly-backup is DOWN: no heartbeat, 2 h overdue",
        },
    }
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert "*Overdue*\n2 h" in fields
    assert link in json.dumps(body["blocks"])


def test_resend_request_as_the_api_receives_it(make_job, slack_ok, email_ok, clock):
    make_job("nightly-backup", age=26 * H)
    run()
    (request,) = received(email_ok, "/resend/emails")
    assert request.headers["Authorization"] == f"Bearer {RESEND_SECRET_KEY}"
    alert = Alert.objects.get(job_id="nightly-backup")
    assert request.headers["Idempotency-Key"] == f"cronmonitor-{alert.id}-email"
    body = request.get_json()
    assert body["from"] == "alerts@example.com"
    assert body["to"] == ["ops@example.com", "oncall@example.com"]
    assert body["subject"] == "[cronmonitor] nightly-backup is DOWN: no heartbeat, 2 h overdue"
    assert "Overdue: 2 h" in body["text"]
    assert '<th align="left">Overdue</th><td>2 h</td>' in body["html"]


def test_alert_sets_last_alert_at_and_history(make_job, slack_ok, email_ok):
    make_job("backup", age=30 * H)
    result = run()
    job = JobHeartbeat.objects.get(pk="backup")
    assert job.last_alert_at == T0
    assert job.alerted
    deliveries = AlertDelivery.objects.filter(alert__job=job)
    assert sorted(deliveries.values_list("channel", "state")) == [
        ("email", "sent"),
        ("slack", "sent"),
    ]
    assert result.as_dict()["jobs"] == [{"job_name": "backup", "action": "sent", "detail": "down"}]


def test_second_run_within_suppression_sends_nothing(make_job, slack_ok, email_ok, clock):
    make_job("backup", age=30 * H)
    run(now=clock.now())
    clock.advance(hours=5)
    second = run(now=clock.now())
    assert (second.alerts_sent, second.suppressed_alerts) == (0, 1)
    clock.advance(hours=1)
    assert run(now=clock.now()).alerts_sent == 1
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 2


@pytest.mark.parametrize("failure", ["http_500", "timeout", "refused"])
def test_failed_channel_is_retried_next_run_without_resending_the_other(
    make_job, channels, email_ok, settings, clock, failure
):
    make_job("backup", age=30 * H)
    if failure == "http_500":
        channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("boom", status=500)
    elif failure == "timeout":
        settings.ALERT_READ_TIMEOUT = 0.2
        RELEASE_HANGING.clear()
        channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_handler(_hang)
    else:
        settings.SLACK_WEBHOOK_URL = f"http://127.0.0.1:{_closed_port()}{SLACK_SECRET_PATH}"
    try:
        first = run(now=clock.now())
    finally:
        RELEASE_HANGING.set()
    # The email copy went out: the job was alerted, though one channel failed.
    assert (first.alerts_sent, first.failed_alerts) == (1, 1)
    assert JobHeartbeat.objects.get(pk="backup").last_alert_at is None
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.attempts) == ("pending", 1)
    assert "slack:" in slack.last_error

    settings.SLACK_WEBHOOK_URL = channels.url_for(SLACK_SECRET_PATH)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    clock.advance(hours=6)
    second = run(now=clock.now())
    assert second.alerts_sent == 1
    assert len(received(channels, "/resend/emails")) == 1
    assert AlertDelivery.objects.get(channel="slack").state == "sent"
    assert JobHeartbeat.objects.get(pk="backup").last_alert_at == clock.now()


def test_a_rerun_before_the_retry_is_due_says_what_is_still_waiting(
    make_job, channels, email_ok, clock
):
    make_job("backup", age=30 * H)
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("boom", status=500)
    first = run(now=clock.now())
    assert (first.failed_alerts, first.retries_waiting) == (1, 1)
    retry_at = AlertDelivery.objects.get(channel="slack").next_attempt_at
    assert first.next_retry_at == retry_at > clock.now()
    assert first.summary_line().endswith(
        f"; 1 delivery waiting to retry, next at {retry_at:%Y-%m-%d %H:%M} UTC"
    )

    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    clock.advance(seconds=10)  # the operator fixed the webhook and runs the checker again
    again = run(now=clock.now(), trigger="manual")
    assert (again.alerts_sent, again.failed_alerts, again.retries_waiting) == (0, 0, 1)
    assert "1 delivery waiting to retry" in again.summary_line()
    assert again.as_dict()["next_retry_at"] == retry_at.isoformat()

    clock.set(retry_at)
    done = run(now=clock.now())
    assert (done.alerts_sent, done.retries_waiting) == (1, 0)
    assert "waiting" not in done.summary_line()


def test_deliveries_another_checker_is_sending_are_not_called_waiting(
    make_job, slack_ok, email_ok, clock
):
    job = make_job("backup", age=30 * H)
    alert = Alert.objects.create(job=job, kind="down", created_at=T0, details={})
    AlertDelivery.objects.create(
        alert=alert,
        channel="slack",
        created_at=T0,
        next_attempt_at=T0,
        updated_at=T0,
        lease_until=T0 + H,  # claimed by a checker on another host a moment ago
    )
    result = run(now=clock.now())
    assert (result.alerts_sent, result.retries_waiting) == (0, 0)
    assert [(j.action, j.detail) for j in result.jobs] == [
        ("pending", "an earlier alert is still being delivered")
    ]
    assert "waiting" not in result.summary_line()


def test_an_alert_after_a_reset_still_says_when_the_last_one_went_out(
    make_job, slack_ok, email_ok, clock
):
    from heartbeats.alerts import procedures
    from heartbeats.signals import recording

    make_job("backup", age=30 * H, now=clock.now())
    assert run(now=clock.now()).alerts_sent == 1
    clock.advance(hours=1)
    procedures.reset_alerts(JobHeartbeat.objects.filter(pk="backup"), now=clock.now())
    assert run(now=clock.now()).alerts_sent == 1
    texts = [r.get_json()["text"] for r in received(slack_ok, SLACK_SECRET_PATH)]
    assert "Last alert: never alerted" in texts[0]
    assert "Last alert: 2026-03-02 12:00 UTC" in texts[1]
    clock.advance(hours=1)
    procedures.reset_alerts(JobHeartbeat.objects.filter(pk="backup"), now=clock.now())
    recording.record_signal(job_name="backup", now=clock.now())
    assert run(now=clock.now()).recoveries == 1
    back_up = received(slack_ok, SLACK_SECRET_PATH)[-1].get_json()["text"]
    assert back_up.startswith("backup is back up")
    assert "Last alert: 2026-03-02 13:00 UTC" in back_up


RELEASE_HANGING = threading.Event()


def _hang(request) -> Response:
    """A webhook that answers only after the client has given up (its read timeout)."""
    RELEASE_HANGING.wait(10)
    return Response("late")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failed_delivery_makes_the_command_exit_non_zero(make_job, channels, email_ok, clock):
    make_job("backup", age=30 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("boom", status=500)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("run_healthcheck", stdout=out, stderr=err)
    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == (
        "1 alert(s) could not be delivered: slack: HTTP 500 (boom) - temporary, retried on a "
        "later run"
    )


def test_no_channel_configured_is_loud_and_non_zero(make_job, no_channels):
    make_job("backup", age=30 * H)
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("run_healthcheck", stdout=out)
    assert excinfo.value.returncode == 2
    assert "No alert channel is configured: stale jobs cannot be alerted" in str(excinfo.value)
    assert Alert.objects.count() == 0


def test_no_channel_system_check(no_channels):
    from django.core.management import call_command as cc

    err = StringIO()
    cc("check", stderr=err, stdout=StringIO())
    assert "heartbeats.W001" in err.getvalue()


def test_json_output_has_the_documented_keys(make_job, slack_ok, email_ok, clock):
    make_job("backup", age=30 * H)
    make_job("fresh", age=H)
    out = StringIO()
    call_command("run_healthcheck", "--json", "--trigger", "manual", stdout=out)
    data = json.loads(out.getvalue())
    assert {k: data[k] for k in ("total_jobs", "stale_jobs", "alerts_sent", "suppressed_alerts",
                                 "failed_alerts", "trigger")} == {
        "total_jobs": 2, "stale_jobs": 1, "alerts_sent": 1, "suppressed_alerts": 0,
        "failed_alerts": 0, "trigger": "manual",
    }  # fmt: skip


def test_one_line_output(make_job, slack_ok, email_ok, clock):
    make_job("backup", age=30 * H)
    out = StringIO()
    call_command("run_healthcheck", stdout=out)
    assert out.getvalue() == (
        "Checked 1 job (manual): 1 with a problem (1 down), 1 of them stale: 1 alerted\n"
    )


def test_dry_run_reports_and_changes_nothing(make_job, channels, clock):
    make_job("backup", age=30 * H)
    out = StringIO()
    call_command("run_healthcheck", "--dry-run", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["jobs"] == [{"job_name": "backup", "action": "would_send", "detail": "down"}]
    assert data["alerts_sent"] == 1
    assert (Alert.objects.count(), CheckRun.objects.count(), len(channels.log)) == (0, 0, 0)
    assert not JobHeartbeat.objects.filter(pk=check_run.CHECKER_JOB).exists()


def test_checker_records_its_own_heartbeat_and_run(make_job, slack_ok, email_ok):
    make_job("backup", age=30 * H)
    run()
    own = JobHeartbeat.objects.get(pk="cron-healthcheck")
    assert (own.last_run_at, own.status) == (T0, "healthy")
    assert own.metadata["alerts_sent"] == 1
    check = CheckRun.objects.get()
    assert (check.outcome, check.alerts_sent, check.stale_jobs) == ("ok", 1, 1)


def test_checker_failure_is_recorded_in_its_own_heartbeat(make_job, channels, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("decide exploded")

    make_job("backup", age=30 * H)
    monkeypatch.setattr(check_run, "_decide", broken)
    with pytest.raises(RuntimeError):
        run()
    own = JobHeartbeat.objects.get(pk="cron-healthcheck")
    assert (own.status, own.last_outcome) == ("failed", "fail")
    assert own.metadata == {"error": "RuntimeError: decide exploded"}
    assert CheckRun.objects.get().outcome == "failed"


def _queries_for_a_pass(*, jobs: int, stale: int, now) -> int:
    Alert.objects.all().delete()
    CheckRun.objects.all().delete()
    JobHeartbeat.objects.all().delete()
    JobHeartbeat.objects.bulk_create(
        [
            JobHeartbeat(job_name=f"job-{i}", last_run_at=now - 30 * H, n_runs=1)
            for i in range(stale)
        ]
        + [JobHeartbeat(job_name=f"ok-{i}", last_run_at=now, n_runs=1) for i in range(jobs - stale)]
    )
    with CaptureQueriesContext(connection) as queries:
        result = run(now=now)
    assert result.alerts_sent == stale
    return len(queries)


def test_query_count_does_not_grow_with_jobs(slack_ok, email_ok, settings):
    settings.OUTAGE_MIN_JOBS = 10_000
    assert _queries_for_a_pass(jobs=10, stale=8, now=T0) == _queries_for_a_pass(
        jobs=1000, stale=8, now=T0 + H
    )


def test_query_count_grows_only_with_insert_batches_as_alerts_grow(slack_ok, email_ok, settings):
    """PostgreSQL inserts any number of rows in one statement; SQLite caps bound parameters."""
    settings.OUTAGE_MIN_JOBS = 10_000
    few = _queries_for_a_pass(jobs=20, stale=10, now=T0)
    many = _queries_for_a_pass(jobs=2000, stale=1000, now=T0 + H)
    if connection.vendor == "postgresql":
        assert few == many
    else:
        # 1,000 alerts, 2,000 deliveries and 1,000 flips to down: SQLite's 999-parameter
        # limit splits the inserts.
        alert_fields = len(Alert._meta.concrete_fields)  # its UUID key is sent too
        delivery_fields = len(AlertDelivery._meta.concrete_fields) - 1  # auto key is not
        flip_fields = len(Flip._meta.concrete_fields) - 1
        statements = (
            math.ceil(1000 / (999 // alert_fields))
            + math.ceil(2000 / (999 // delivery_fields))
            + math.ceil(1000 / (999 // flip_fields))
        )
        assert many - few == statements - 3


def test_a_pass_with_nothing_due_takes_no_lock_or_scan_and_the_same_statements_for_any_jobs(
    make_job, slack_ok, email_ok
):
    statements = []
    for jobs, now in ((10, T0), (1000, T0 + H)):
        CheckRun.objects.all().delete()
        JobHeartbeat.objects.all().delete()
        JobHeartbeat.objects.bulk_create(
            JobHeartbeat(job_name=f"ok-{i}", last_run_at=now, n_runs=1) for i in range(jobs)
        )
        with CaptureQueriesContext(connection) as captured:
            result = run(now=now, trigger="manual")
        assert (result.total_jobs, result.errors) == (jobs, [])
        sql = [q["sql"] for q in captured]
        # The run's row, one probe (total + anything to do), the run history, event pruning,
        # the run's result; no advisory lock, no transaction, no count(*) over the jobs.
        statements.append(len(sql))
        assert not any("advisory" in s or "SAVEPOINT" in s or "COUNT(*)" in s for s in sql)
    assert statements[0] == statements[1]
    assert CheckRun.objects.get().outcome == "ok"
    assert received(slack_ok, SLACK_SECRET_PATH) == []


def test_a_quiet_pass_still_reports_a_missing_channel(make_job, no_channels):
    make_job("fresh", age=H)
    result = run()
    assert result.errors == [
        "No alert channel is configured: stale jobs cannot be alerted. Set SLACK_WEBHOOK_URL, "
        "or RESEND_API_KEY, RESEND_FROM and ALERT_EMAIL_TO."
    ]
    assert CheckRun.objects.get().outcome == "failed"


def test_a_quiet_pass_still_notices_that_the_checker_was_away(make_job, slack_ok, email_ok):
    CheckRun.objects.create(started_at=T0 - 20 * H, outcome="ok")
    make_job("fresh", age=H)
    result = run()
    assert result.outage == "the checker did not run for 20 h"
    (notice,) = received(slack_ok, SLACK_SECRET_PATH)
    assert notice.get_json()["text"].startswith("Possible monitoring outage")


def test_a_pending_retry_is_sent_when_no_job_needs_attention(make_job, slack_ok, email_ok):
    job = make_job("backup", age=H)
    details = {"last_run_at": job.last_run_at.isoformat(), "status": "ok", "downtime_hours": 3}
    alert = Alert.objects.create(job=job, kind="recovery", created_at=T0 - H, details=details)
    for channel in ("slack", "email"):
        AlertDelivery.objects.create(
            alert=alert, channel=channel, created_at=T0 - H, next_attempt_at=T0, updated_at=T0
        )
    run()
    assert [d.state for d in AlertDelivery.objects.all()] == ["sent", "sent"]
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1


def test_query_count_is_unchanged_with_per_job_schedules(slack_ok, email_ok, settings):
    settings.OUTAGE_MIN_JOBS = 10_000

    def pass_over(count: int, now) -> int:
        Alert.objects.all().delete()
        CheckRun.objects.all().delete()
        JobHeartbeat.objects.all().delete()
        JobHeartbeat.objects.bulk_create(
            [
                JobHeartbeat(
                    job_name=f"cron-{i}",
                    last_run_at=now - 2 * H,
                    n_runs=1,
                    cron="0 * * * *",
                    tz="Europe/Berlin",
                    grace=H / 2,
                    due_at=now - H / 2,
                )
                for i in range(count)
            ]
            + [
                JobHeartbeat(
                    job_name=f"period-{i}",
                    last_run_at=now,
                    n_runs=1,
                    period=H,
                    grace=H / 2,
                    due_at=now + H,
                )
                for i in range(count)
            ]
        )
        with CaptureQueriesContext(connection) as queries:
            result = run(now=now)
        assert result.alerts_sent == count
        return len(queries)

    assert pass_over(8, T0) == pass_over(8, T0 + H)
    with_schedules = pass_over(8, T0 + 2 * H)
    JobHeartbeat.objects.bulk_create(
        JobHeartbeat(job_name=f"plain-{i}", last_run_at=T0, n_runs=1) for i in range(500)
    )
    assert with_schedules == pass_over(8, T0 + 3 * H)


def test_a_manual_run_does_not_make_a_broken_crontab_look_alive(
    make_job, slack_ok, email_ok, clock
):
    from heartbeats.reporting import summary_figures

    run(now=clock.now())
    clock.advance(hours=20)
    run(now=clock.now(), trigger="manual")
    own = JobHeartbeat.objects.get(pk=check_run.CHECKER_JOB)
    assert own.last_run_at == clock.now() - timedelta(hours=20)
    assert summary_figures.checker_status(now=clock.now()).problem == "overdue"


def test_a_check_run_records_when_it_really_finished(make_job, channels, email_ok, clock, settings):
    settings.ALERT_RETRIES_PER_RUN = 1
    channels.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "2"}
    )
    channels.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data("ok")
    make_job("backup", age=30 * H, now=clock.now())
    started = clock.now()
    check_run.run_check(now=started, sleep=lambda seconds: clock.advance(seconds=seconds))
    run_row = CheckRun.objects.get()
    assert run_row.started_at == started
    assert run_row.finished_at >= started + timedelta(seconds=2)


def test_dry_run_lists_what_it_would_send(make_job, channels, clock):
    make_job("backup", age=30 * H)
    make_job("quiet", age=30 * H, last_alert_at=T0 - H)
    out = StringIO()
    call_command("run_healthcheck", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[1:] == [
        "  quiet: suppressed (same incident, last alert 1 h ago)",
        "  backup: would_send (down)",
    ]


def test_only_the_output_tail_of_a_large_failure_leaves_the_database(make_job, slack_ok, email_ok):
    job = make_job("backup", age=H, last_outcome="fail", status="failed")
    tail = "".join(f"{i:04d}" for i in range(content.OUTPUT_TAIL_CHARS // 4))
    PingEvent.objects.create(job=job, kind="fail", created_at=T0 - H, body="x" * 10_000_000 + tail)
    with CaptureQueriesContext(connection) as queries:
        run()
    fetches = [q["sql"] for q in queries if '"tail"' in q["sql"]]
    cut = "RIGHT(" if connection.vendor == "postgresql" else "SUBSTR("
    assert fetches and all(cut in sql for sql in fetches)
    # Cut by the database: the body itself is never selected.
    column = '"heartbeats_pingevent"."body"'
    assert all(sql.count(column) == sql.count(cut + column) for sql in fetches)
    assert tail[-40:] in received(slack_ok, SLACK_SECRET_PATH)[0].get_data(as_text=True)
