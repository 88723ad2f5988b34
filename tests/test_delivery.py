"""Issue 6's delivery guarantees: retries, Retry-After, permanent errors, expiry, digest,
monitoring-outage grace, recovery notices."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from heartbeats.alerts import check_run, delivery, outbox, procedures
from heartbeats.models import Alert, AlertDelivery, ChannelStatus, CheckRun, JobHeartbeat
from heartbeats.signals import recording
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]

H = timedelta(hours=1)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(now=T0, **kwargs) -> check_run.CheckResult:
    kwargs.setdefault("sleep", Sleeps())
    return check_run.run_check(now=now, **kwargs)


def test_retry_after_is_honoured_within_the_run(make_job, channels, email_ok, settings):
    settings.ALERT_RETRIES_PER_RUN = 2
    settings.ALERT_RETRY_AFTER_MAX_SECONDS = 3  # at the cap: still waited for
    make_job("backup", age=30 * H)
    channels.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "3"}
    )
    channels.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data("ok")
    sleeps = Sleeps()
    result = run(sleep=sleeps)
    assert result.alerts_sent == 1
    assert sleeps == [3]  # longer than the backoff (1 to 1.5 s)
    assert len(received(channels, SLACK_SECRET_PATH)) == 2


def test_long_retry_after_defers_to_a_later_run(make_job, channels, email_ok, settings):
    settings.ALERT_RETRIES_PER_RUN = 2
    make_job("backup", age=30 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "7200"}
    )
    sleeps = Sleeps()
    result = run(sleep=sleeps)
    assert result.failed_alerts == 1
    assert sleeps == []
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.next_attempt_at) == ("pending", T0 + 2 * H)


def test_backoff_grows_with_jitter_between_in_run_retries(
    make_job, channels, email_ok, settings, caplog
):
    settings.ALERT_RETRIES_PER_RUN = 3
    settings.ALERT_RETRY_BASE_SECONDS = 1
    make_job("backup", age=30 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("busy", status=503)
    sleeps = Sleeps()
    run(sleep=sleeps)
    assert len(sleeps) == 3
    for attempt, seconds in enumerate(sleeps):
        assert 2**attempt <= seconds <= 2**attempt * 1.5
    assert len(received(channels, SLACK_SECRET_PATH)) == 4
    assert [r.getMessage() for r in caplog.records if r.name == "heartbeats.alerts.delivery"] == [
        f"Delivery on slack failed (attempt {n}): slack: HTTP 503 (busy)" for n in (1, 2, 3, 4)
    ]


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, "no_service"), (404, "channel_not_found"), (410, "channel_is_archived")],
)
def test_permanent_slack_error_marks_channel_broken_and_email_still_goes(
    make_job, channels, email_ok, settings, status, body
):
    settings.ALERT_RETRIES_PER_RUN = 3
    make_job("backup", age=30 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data(body, status=status)
    result = run()
    assert len(received(channels, SLACK_SECRET_PATH)) == 1  # no retry of a permanent error
    assert len(received(channels, "/resend/emails")) == 1
    assert AlertDelivery.objects.get(channel="slack").state == "failed"
    broken = ChannelStatus.objects.get(channel="slack")
    assert broken.broken_since == T0
    assert body in broken.last_error
    assert result.failed_alerts == 1
    job = JobHeartbeat.objects.get(pk="backup")
    assert job.last_alert_at == T0  # every working channel accepted it
    err = StringIO()
    call_command("check", stdout=StringIO(), stderr=err)
    assert "heartbeats.W003" in err.getvalue()


def test_a_lease_shorter_than_a_send_with_its_retries_is_a_system_check_warning(db, settings):
    def warnings() -> str:
        err = StringIO()
        call_command("check", stdout=StringIO(), stderr=err)
        return err.getvalue()

    assert "heartbeats.W004" not in warnings()  # the defaults: 110 s of 300
    settings.ALERT_RETRIES_PER_RUN = 6  # 95 s of pauses, 180 s of Retry-After, 7 timeouts
    assert "longest send with its retries (380 s)" in warnings()


@pytest.mark.parametrize("status", [401, 403])
def test_permanent_resend_error(make_job, channels, slack_ok, status):
    make_job("backup", age=30 * H)
    channels.expect_request("/resend/emails").respond_with_json(
        {"message": "bad key"}, status=status
    )
    run()
    assert AlertDelivery.objects.get(channel="email").state == "failed"
    assert ChannelStatus.objects.get(channel="email").broken_since == T0


def test_a_broken_channel_is_skipped_and_said_so_while_the_others_deliver(
    make_job, channels, email_ok, clock
):
    make_job("backup", age=30 * H)
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("no_service", status=404)
    run(now=clock.now())
    make_job("other", age=30 * H, now=clock.now())
    result = run(now=clock.advance(minutes=1))
    assert sorted((j.job_name, j.action) for j in result.jobs) == [
        ("backup", "suppressed"),
        ("other", "sent"),
    ]
    assert result.errors == [
        "alert channel slack is broken: it gets no new alerts until it is fixed and "
        "`manage.py send_test_alert` gets through"
    ]
    assert len(received(channels, SLACK_SECRET_PATH)) == 1
    assert not AlertDelivery.objects.filter(alert__job="other", channel="slack").exists()


def test_pending_alert_for_a_recovered_job_expires(make_job, channels, email_ok, clock, settings):
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 * *"  # no checker-gap outage in this story
    make_job("backup", age=30 * H)
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("down", status=500)
    run(now=clock.now())
    clock.advance(hours=1)
    recording.record_signal(job_name="backup", now=clock.now())
    clock.advance(hours=6)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    result = run(now=clock.now())
    assert AlertDelivery.objects.get(channel="slack").state == "expired"
    assert len(received(channels, SLACK_SECRET_PATH)) == 1
    assert result.alerts_sent == 0
    assert Alert.objects.get().done  # closed, so the next outage alerts again
    # Email did deliver "down", so the team hears "back up" on the next run.
    assert run(now=clock.now()).recoveries == 1
    clock.advance(hours=30)
    later = run(now=clock.now())
    assert ("backup", "sent") in [(j.job_name, j.action) for j in later.jobs]


def test_delivery_for_a_channel_no_longer_configured_fails_and_closes_the_alert(
    make_job, channels, slack_ok, clock
):
    make_job("backup", age=30 * H)
    channels.expect_request("/resend/emails").respond_with_data("busy", status=503)
    run(now=clock.now())
    assert AlertDelivery.objects.get(channel="email").state == "pending"
    tried = len(received(channels, "/resend/emails"))
    with override_settings(RESEND_API_KEY=""):
        result = run(now=clock.advance(hours=1))
    email = AlertDelivery.objects.get(channel="email")
    assert (email.state, email.last_error) == ("failed", "email: no longer configured")
    assert email.sent_at is None
    assert len(received(channels, "/resend/emails")) == tried  # nothing sent
    assert result.errors == ["email: no longer configured - permanent, not retried"]
    assert Alert.objects.get().done
    assert not ChannelStatus.objects.filter(channel="email").exists()  # not broken: unset


def test_an_alert_left_open_with_nothing_pending_is_closed_and_its_job_alerted_again(
    make_job, slack_ok, email_ok, clock
):
    """What older code left after a crash between recording and closing: the job's next
    alert was blocked for good. The next pass closes it and alerts as usual."""
    job = make_job("backup", age=30 * H, now=clock.now())
    wedged = Alert.objects.create(job=job, kind="down", created_at=clock.now() - 10 * H)
    for channel in ("slack", "email"):
        AlertDelivery.objects.create(
            alert=wedged, channel=channel, state="sent", sent_at=clock.now() - 10 * H
        )
    result = run(now=clock.now())
    assert Alert.objects.get(pk=wedged.pk).done
    assert [(j.job_name, j.action) for j in result.jobs] == [("backup", "sent")]
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1
    assert JobHeartbeat.objects.get(pk="backup").last_alert_at == clock.now()


def test_a_pass_with_nothing_else_to_do_still_closes_an_alert_left_open(
    make_job, slack_ok, email_ok, clock
):
    job = make_job("backup", age=H, now=clock.now())
    wedged = Alert.objects.create(job=job, kind="down", created_at=clock.now() - 10 * H)
    AlertDelivery.objects.create(
        alert=wedged, channel="slack", state="sent", sent_at=clock.now() - 10 * H
    )
    result = run(now=clock.now())
    assert Alert.objects.get(pk=wedged.pk).done
    assert result.recoveries == 1  # "down" reached Slack, so "back up" follows
    assert not JobHeartbeat.objects.get(pk="backup").alerted


def test_a_message_that_raises_is_recorded_and_never_blocks_the_others(
    make_job, slack_ok, email_ok, clock, settings, caplog
):
    """A snapshot that cannot be formatted (a corrupt date) costs its own deliveries, which
    are retried and then given up at ALERT_MAX_ATTEMPTS; every other alert goes out."""
    settings.ALERT_MAX_ATTEMPTS = 2
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 * *"  # no checker-gap outage in this story
    broken = make_job("broken", age=2 * H, now=clock.now())
    corrupt = Alert.objects.create(
        job=broken, kind="down", created_at=clock.now() - H, details={"last_alert_at": "noon" * 60}
    )
    for channel in ("slack", "email"):
        AlertDelivery.objects.create(alert=corrupt, channel=channel, created_at=clock.now() - H)
    make_job("backup", age=30 * H, now=clock.now())
    first = run(now=clock.now())
    assert sorted((j.job_name, j.action) for j in first.jobs) == [
        ("backup", "sent"),
        ("broken", "pending"),  # retried on a later pass
    ]
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1
    slack = AlertDelivery.objects.get(alert=corrupt, channel="slack")
    assert (slack.state, slack.attempts) == ("pending", 1)
    cut = f"Invalid isoformat string: '{'noon' * 60}'"[:200]  # the first 200 characters
    assert slack.last_error == f"slack: unexpected error (ValueError: {cut})"
    assert f"Delivery on slack failed: {slack.last_error}" in caplog.messages
    assert slack.next_attempt_at == clock.now() + timedelta(minutes=2)
    run(now=clock.advance(minutes=2))
    assert set(AlertDelivery.objects.filter(alert=corrupt).values_list("state", flat=True)) == {
        "failed"
    }
    assert Alert.objects.get(pk=corrupt.pk).done  # the job can be alerted again
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1


def test_paused_alerted_job_gets_no_recovery_message(make_job, slack_ok, email_ok, clock):
    make_job("backup", age=30 * H, now=clock.now())
    run(now=clock.now())
    JobHeartbeat.objects.filter(pk="backup").update(paused=True)
    assert run(now=clock.now()).recoveries == 0


def test_email_idempotency_key_is_reused_across_retries(make_job, channels, slack_ok, clock):
    make_job("backup", age=30 * H)
    channels.expect_oneshot_request("/resend/emails").respond_with_data("oops", status=502)
    run(now=clock.now())
    channels.expect_request("/resend/emails").respond_with_json({"id": "1"})
    clock.advance(hours=6)
    run(now=clock.now())
    keys = [r.headers["Idempotency-Key"] for r in received(channels, "/resend/emails")]
    assert keys == [f"cronmonitor-{Alert.objects.get().pk}-email"] * 2


def test_digest_when_more_jobs_than_the_threshold(make_job, slack_ok, email_ok, settings):
    settings.ALERT_DIGEST_THRESHOLD = 5
    settings.OUTAGE_MIN_JOBS = 100
    for i in range(7):
        make_job(f"job-{i}", age=30 * H)
    result = run()
    assert result.alerts_sent == 7
    (slack,) = received(slack_ok, SLACK_SECRET_PATH)
    (email,) = received(email_ok, "/resend/emails")
    assert slack.get_json()["text"].startswith("7 jobs down\n")
    for i in range(7):
        assert f"job-{i} is DOWN" in slack.get_json()["text"]
        assert f"job-{i} is DOWN" in email.get_json()["text"]
    assert JobHeartbeat.objects.filter(last_alert_at=T0).count() == 7


def test_at_the_threshold_each_job_gets_its_own_message(make_job, slack_ok, email_ok, settings):
    settings.ALERT_DIGEST_THRESHOLD = 5
    settings.OUTAGE_MIN_JOBS = 100
    for i in range(5):
        make_job(f"job-{i}", age=30 * H)
    run()
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 5


def test_checker_gap_is_treated_as_monitoring_outage(make_job, slack_ok, email_ok, clock):
    CheckRun.objects.create(started_at=clock.now() - 20 * H, outcome="ok")
    for i in range(3):
        make_job(f"job-{i}", age=30 * H, now=clock.now())
    make_job("healthy", age=H, now=clock.now())
    first = run(now=clock.now())
    assert first.outage == "the checker did not run for 20 h"
    assert first.alerts_sent == 0
    (notice,) = received(slack_ok, SLACK_SECRET_PATH)
    assert notice.get_json()["text"].startswith(
        "Possible monitoring outage\n\ncronmonitor suspects its own monitoring was interrupted: "
        "the checker did not run for 20 h."
    )
    assert {j.action for j in first.jobs} == {"deferred"}

    clock.advance(minutes=30)
    recording.record_signal(job_name="job-0", now=clock.now())
    assert run(now=clock.now()).alerts_sent == 0  # still inside the grace period

    clock.advance(minutes=31)
    after = run(now=clock.now())
    assert sorted(j.job_name for j in after.jobs if j.action == "sent") == ["job-1", "job-2"]
    assert after.outage == ""


def test_most_jobs_silent_at_once_is_treated_as_monitoring_outage(
    make_job, slack_ok, email_ok, settings
):
    settings.OUTAGE_MIN_JOBS = 5
    for i in range(6):
        make_job(f"job-{i}", age=30 * H)
    for i in range(4):
        make_job(f"ok-{i}", age=H)
    result = run()
    assert result.outage == "6 of 10 jobs went silent at the same time"
    assert result.alerts_sent == 0
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1
    # After the grace, the jobs still silent are alerted: no second outage notice.
    later = run(now=T0 + 2 * H)
    assert later.outage == ""
    assert later.alerts_sent == 6
    assert run(now=T0 + 8 * H).outage == ""


def test_half_the_jobs_silent_is_not_an_outage(make_job, slack_ok, email_ok, settings):
    settings.ALERT_DIGEST_THRESHOLD = 100
    for i in range(5):
        make_job(f"job-{i}", age=30 * H)
    for i in range(5):
        make_job(f"ok-{i}", age=H)
    assert run().alerts_sent == 5


def test_recovery_message_after_an_alerted_job_beats_again(make_job, slack_ok, email_ok, clock):
    make_job("backup", age=26 * H, now=clock.now())
    run(now=clock.now())
    clock.advance(hours=1)
    recording.record_signal(job_name="backup", now=clock.now())
    clock.advance(hours=1)
    result = run(now=clock.now())
    assert result.recoveries == 1
    texts = [r.get_json()["text"] for r in received(slack_ok, SLACK_SECRET_PATH)]
    assert texts[-1].startswith("backup is back up after 1 d 3 h")
    assert "Last alert: 2026-03-02 12:00 UTC" in texts[-1]
    email = received(email_ok, "/resend/emails")[-1].get_json()
    assert "Last alert: 2026-03-02 12:00 UTC" in email["text"]
    assert not JobHeartbeat.objects.get(pk="backup").alerted
    assert run(now=clock.now()).recoveries == 0


def test_no_recovery_message_when_disabled(make_job, slack_ok, email_ok, clock, settings):
    settings.NOTIFY_ON_RECOVERY = False
    make_job("backup", age=26 * H, now=clock.now())
    run(now=clock.now())
    recording.record_signal(job_name="backup", now=clock.now())
    run(now=clock.now())
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1
    assert not JobHeartbeat.objects.get(pk="backup").alerted


def test_failed_job_alerts_with_its_output(make_job, slack_ok, email_ok):
    make_job("report", age=H)
    recording.record_signal(
        job_name="report", kind="fail", now=T0, body="Traceback...\nKeyError: 'x'"
    )
    result = run()
    assert [(j.job_name, j.action, j.detail) for j in result.jobs] == [("report", "sent", "failed")]
    text = received(slack_ok, SLACK_SECRET_PATH)[0].get_json()["text"]
    assert text.startswith("report FAILED")
    assert "KeyError: 'x'" in text


def test_hung_run_alerts_after_its_grace(make_job, slack_ok, email_ok, clock, settings):
    settings.DEFAULT_GRACE_MINUTES = 30
    make_job("sync", age=H, now=clock.now())
    recording.record_signal(job_name="sync", kind="start", now=clock.now())
    clock.advance(minutes=29)
    assert run(now=clock.now()).alerts_sent == 0
    clock.advance(minutes=2)
    result = run(now=clock.now())
    assert [(j.job_name, j.detail) for j in result.jobs] == [("sync", "hung")]


def test_paused_job_is_never_alerted(make_job, slack_ok, email_ok):
    make_job("old", age=300 * H, paused=True)
    assert run().alerts_sent == 0
    assert Alert.objects.count() == 0


def test_channels_are_paced_to_their_documented_rates():
    """Slack about one message a second, Resend two requests a second: each channel waits
    for its own last request only."""
    sleeps = Sleeps()
    pacer = delivery.Pacer(sleeps, enabled=True)
    for channel in ("slack", "email", "slack", "email"):
        pacer.wait(channel)
    assert len(sleeps) == 2
    assert 0.9 < sleeps[0] <= 1.0 and 0.4 < sleeps[1] <= 0.5


def test_a_pass_paces_its_messages_when_throttling_is_on(make_job, slack_ok, email_ok, settings):
    settings.ALERT_THROTTLE = True
    settings.OUTAGE_MIN_JOBS = 100
    for i in range(3):
        make_job(f"job-{i}", age=30 * H)
    sleeps = Sleeps()
    assert run(sleep=sleeps).alerts_sent == 3
    assert sleeps and all(0 < s <= 1.0 for s in sleeps)


def test_a_slow_batch_renews_its_lease_so_no_other_checker_takes_it(
    make_job, channels, email_ok, settings, clock
):
    """Two Slack messages, each answered after a long Retry-After: the lease is renewed."""
    settings.ALERT_DELIVERY_LEASE_SECONDS = 60
    settings.ALERT_RETRIES_PER_RUN = 1
    settings.ALERT_RETRY_AFTER_MAX_SECONDS = 45
    settings.OUTAGE_MIN_JOBS = 100
    for i in range(2):
        make_job(f"job-{i}", age=30 * H, now=clock.now())
        channels.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data(
            "slow down", status=429, headers={"Retry-After": "40"}
        )
        channels.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data("ok")
    leases = []

    def waiting(seconds: float) -> None:
        clock.advance(seconds=seconds)
        leased = AlertDelivery.objects.filter(lease_until__isnull=False)
        leases.append(set(leased.values_list("lease_until", flat=True)))

    result = check_run.run_check(now=clock.now(), sleep=waiting)
    assert result.alerts_sent == 2
    assert AlertDelivery.objects.filter(state="sent").count() == 4
    assert max(min(lease) for lease in leases) > T0 + timedelta(seconds=60)  # renewed


def test_silence_all_drops_alerts_waiting_to_be_retried(make_job, channels, email_ok, clock):
    make_job("backup", age=30 * H, now=clock.now())
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("down", status=500)
    run(now=clock.now())
    assert AlertDelivery.objects.get(channel="slack").state == "pending"
    procedures.silence_all(now=clock.now(), until=clock.now() + 6 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    clock.advance(hours=2)
    run(now=clock.now())
    assert AlertDelivery.objects.get(channel="slack").state == "expired"
    assert len(received(channels, SLACK_SECRET_PATH)) == 1
    assert Alert.objects.get(kind="down").done


def test_a_retried_digest_email_keeps_its_idempotency_key(make_job, channels, slack_ok, clock):
    clock.set(T0)
    for i in range(7):
        make_job(f"job-{i}", age=30 * H)
    channels.expect_oneshot_request("/resend/emails").respond_with_data("timeout", status=504)
    with override_settings(OUTAGE_MIN_JOBS=100):
        run(now=clock.now())
        channels.expect_request("/resend/emails").respond_with_json({"id": "1"})
        clock.advance(hours=6)
        make_job("late-joiner", age=30 * H, now=clock.now())  # must not change the digest
        run(now=clock.now())
    emails = received(channels, "/resend/emails")
    keys = [r.headers["Idempotency-Key"] for r in emails]
    assert len(keys) == 3
    assert keys[0] == keys[1] and keys[0].startswith("cronmonitor-digest-")
    assert emails[0].get_data() == emails[1].get_data()  # the same message, so Resend dedupes
    assert "late-joiner" in emails[2].get_json()["subject"]


def test_a_back_up_notice_still_pending_when_the_job_is_alerted_again_is_dropped(
    make_job, channels, email_ok, clock, settings
):
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 * *"  # no checker-gap outage in this story
    make_job("backup", age=30 * H, now=clock.now())
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("ok")
    run(now=clock.now())  # "down" delivered on both channels
    recording.record_signal(job_name="backup", now=clock.now())
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("busy", status=503)
    clock.advance(hours=1)
    run(now=clock.now())  # "back up": email sent, Slack failed and waits for a retry
    clock.advance(hours=30)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    run(now=clock.now())  # down again: the old "back up" must not reach Slack now
    slack = [r.get_json()["text"].splitlines()[0] for r in received(channels, SLACK_SECRET_PATH)]
    about_backup = [line for line in slack if line.startswith("backup ")]
    assert about_backup == [
        "backup is DOWN: no heartbeat, 6 h overdue",
        "backup is back up after 1 d 6 h",  # the attempt that failed
        "backup is DOWN: no heartbeat, 7 h overdue",
    ]
    recovery = AlertDelivery.objects.get(alert__kind="recovery", channel="slack")
    assert recovery.state == "expired"


def test_a_pass_out_of_time_tries_nothing_and_leaves_every_delivery_due(
    make_job, make_alert, slack_ok, email_ok
):
    alerts = [make_alert(make_job(name, age=30 * H)) for name in ("backup", "report")]
    report = delivery.deliver_pending(now=T0, sleep=Sleeps(), deadline=time.monotonic())
    assert (report.left_for_next_pass, report.sent) == (4, [])
    assert (
        sorted(a.job_id for a in report.pending)
        == ["backup", "report"]
        == [a.job_id for a in alerts]
    )
    assert slack_ok.log == []
    rows = AlertDelivery.objects.values_list("state", "attempts", "lease_until")
    assert list(rows) == [("pending", 0, None)] * 4


def test_a_deadline_cuts_a_hanging_send_short_with_no_retry_and_the_rest_still_goes(
    make_job, make_alert, hanging_slack, email_ok, settings
):
    settings.ALERT_CONNECT_TIMEOUT = 60
    settings.ALERT_READ_TIMEOUT = 60
    settings.ALERT_RETRIES_PER_RUN = 2
    alert = make_alert(make_job("backup", age=30 * H))
    sleeps = Sleeps()
    deadline = time.monotonic() + 4  # Slack gets half, the other half is left for email
    report = delivery.deliver_pending(now=T0, sleep=sleeps, deadline=deadline)
    assert time.monotonic() < deadline
    assert sleeps == []
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.attempts, slack.last_error) == ("pending", 1, "slack: timed out")
    assert AlertDelivery.objects.get(channel="email").state == "sent"
    assert (report.left_for_next_pass, report.failed) == (0, [alert])


def test_two_digests_of_different_alerts_never_share_an_idempotency_key(
    make_job, make_alert, channels, email_ok, settings
):
    """Resend would drop the second as a repeat of the first."""
    settings.ALERT_DIGEST_THRESHOLD = 5
    settings.SLACK_WEBHOOK_URL = ""
    for batch in ("a", "b"):
        for i in range(6):
            make_alert(make_job(f"{batch}-{i}", age=30 * H), channels=["email"])
        delivery.deliver_pending(now=T0, sleep=Sleeps())
    keys = [r.headers["Idempotency-Key"] for r in received(email_ok, "/resend/emails")]
    assert len(keys) == 2 and keys[0] != keys[1]


def test_a_pass_works_through_batch_after_batch(make_job, make_alert, slack_ok, monkeypatch):
    monkeypatch.setattr(outbox, "CLAIM_BATCH", 1)
    for name in ("backup", "report", "sync"):
        make_alert(make_job(name, age=30 * H), channels=["slack"])
    report = delivery.deliver_pending(now=T0, sleep=Sleeps())
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 3
    assert sorted(a.job_id for a in report.sent) == ["backup", "report", "sync"]


def test_an_alert_sent_on_one_channel_while_another_waits_is_reported_pending(
    make_job, make_alert, slack_ok
):
    """Its email waits for a retry an hour away: the pass sent it, yet it is not settled."""
    alert = make_alert(make_job("backup", age=30 * H), channels=["slack"])
    AlertDelivery.objects.create(alert=alert, channel="email", attempts=1, next_attempt_at=T0 + H)
    report = delivery.deliver_pending(now=T0, sleep=Sleeps())
    assert ([a.id for a in report.pending], report.sent, report.failed) == ([alert.id], [], [])
    Alert.objects.filter(pk=alert.pk).update(done=False)
    AlertDelivery.objects.filter(channel="slack").update(state="pending", sent_at=None)
    result = run(now=T0)  # the same, inside a check run: reported as sent, as Slack has it
    assert ("backup", "sent") in [(job.job_name, job.action) for job in result.jobs]
