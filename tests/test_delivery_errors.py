"""Errors classified by what they mean: a service that asks us to wait or fails on its side is
retried; any other 4xx is ours to fix, so it is not retried and marks the channel broken,
with the service's own words (secrets removed)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from heartbeats.alerts import check_run, delivery, test_alert
from heartbeats.models import AlertDelivery, ChannelStatus
from tests.conftest import RESEND_SECRET_KEY, SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def run() -> check_run.CheckResult:
    return check_run.run_check(now=T0, sleep=lambda seconds: None)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_a_temporary_answer_is_retried_later_and_the_channel_stays_healthy(
    make_job, channels, slack_ok, status
):
    make_job("backup", age=30 * H)
    channels.expect_request("/resend/emails").respond_with_json({"message": "wait"}, status=status)
    result = run()
    email = AlertDelivery.objects.get(channel="email")
    assert (email.state, email.next_attempt_at) == ("pending", T0 + timedelta(minutes=2))
    assert email.last_error == f"email: HTTP {status} (wait)"
    assert result.errors == [f"email: HTTP {status} (wait) - temporary, retried on a later run"]
    assert not ChannelStatus.objects.exists()


def test_resend_422_is_permanent_and_shows_resends_message_without_the_key(
    make_job, channels, slack_ok
):
    make_job("backup", age=30 * H)
    answer = {
        "statusCode": 422,
        "name": "validation_error",
        "message": f"Invalid `from` field for key {RESEND_SECRET_KEY}.\nSee the docs.",
    }
    channels.expect_request("/resend/emails").respond_with_json(answer, status=422)
    result = run()
    assert len(received(channels, "/resend/emails")) == 1
    email = AlertDelivery.objects.get(channel="email")
    expected = "email: HTTP 422 (Invalid `from` field for key [redacted].)"
    assert (email.state, email.last_error) == ("failed", expected)
    broken = ChannelStatus.objects.get(channel="email")
    assert (broken.broken_since, broken.last_error) == (T0, expected)
    assert result.failed_alerts == 1
    assert RESEND_SECRET_KEY not in " ".join(result.errors)


def test_slack_400_invalid_payload_is_permanent_and_marks_slack_broken(
    make_job, channels, email_ok
):
    make_job("backup", age=30 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("invalid_payload", status=400)
    run()
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.last_error) == ("failed", "slack: HTTP 400 (invalid_payload)")
    assert ChannelStatus.objects.get(channel="slack").last_error == slack.last_error
    assert AlertDelivery.objects.get(channel="email").state == "sent"


def test_a_timeout_is_temporary(make_job, hanging_slack, email_ok, settings):
    settings.ALERT_READ_TIMEOUT = 0.2
    make_job("backup", age=30 * H)
    run()
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.last_error) == ("pending", "slack: timed out")
    assert not ChannelStatus.objects.exists()


def test_a_refused_connection_is_temporary(make_job, email_ok, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.SLACK_WEBHOOK_URL = f"http://127.0.0.1:{port}{SLACK_SECRET_PATH}"
    make_job("backup", age=30 * H)
    run()
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.last_error) == ("pending", "slack: connection failed")
    assert not ChannelStatus.objects.exists()


def test_a_broken_channel_gets_nothing_new_until_a_test_alert_gets_through(
    make_job, channels, settings
):
    """Checked every minute, a job down behind a revoked webhook must not cost a request and an
    alert row a minute; once a test alert gets through, the next pass alerts it."""
    settings.RESEND_API_KEY = ""  # Slack only
    make_job("backup", age=30 * H)
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("no_team", status=404)
    run()
    for minutes in (1, 2):
        later = check_run.run_check(now=T0 + timedelta(minutes=minutes), sleep=lambda s: None)
        assert [(j.job_name, j.action) for j in later.jobs] == [("backup", "no_channel")]
        assert later.errors == [
            "every alert channel is broken (slack): no alert can go out until it is fixed and "
            "`manage.py send_test_alert` gets through"
        ]
    assert len(received(channels, SLACK_SECRET_PATH)) == 1
    assert AlertDelivery.objects.count() == 1
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    assert [o.ok for o in test_alert.send_test_alert(now=T0 + timedelta(minutes=3))] == [True]
    healed = ChannelStatus.objects.get(channel="slack")
    assert (healed.broken_since, healed.last_error) == (None, "")
    fixed = check_run.run_check(now=T0 + timedelta(minutes=4), sleep=lambda s: None)
    assert [(j.job_name, j.action) for j in fixed.jobs] == [("backup", "sent")]


def test_a_channel_broken_by_several_messages_in_a_pass_stays_broken_and_is_logged_once(
    make_job, make_alert, channels, caplog
):
    for name in ("backup", "report"):
        make_alert(make_job(name, age=30 * H), channels=["slack"])
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("no_service", status=404)
    delivery.deliver_pending(now=T0, sleep=lambda seconds: None)
    assert len(received(channels, SLACK_SECRET_PATH)) == 2
    broken = ChannelStatus.objects.get(channel="slack")
    assert (broken.broken_since, broken.last_error) == (T0, "slack: HTTP 404 (no_service)")
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Channel ")]
    assert logged == ["Channel slack is broken: slack: HTTP 404 (no_service)"]


def test_a_temporary_error_leaves_a_broken_channel_broken(make_job, make_alert, channels):
    """Only a delivery or a test alert that gets through heals a channel."""
    ChannelStatus.objects.create(channel="slack", broken_since=T0 - H, last_error="HTTP 404")
    make_alert(make_job("backup", age=30 * H), channels=["slack"])
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("busy", status=503)
    delivery.deliver_pending(now=T0, sleep=lambda seconds: None)
    broken = ChannelStatus.objects.get(channel="slack")
    assert (broken.broken_since, broken.last_error) == (T0 - H, "HTTP 404")
