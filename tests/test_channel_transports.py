"""Each channel kind's request, exactly as its service documents it, sent to a local server:
a signed webhook (verified here by an independent HMAC), PagerDuty's Events API v2 (one
incident per job incident, resolved on recovery), a Teams Workflows Adaptive Card."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings

from heartbeats.alerts import check_run
from heartbeats.models import AlertDelivery, ChannelStatus, PingEvent
from heartbeats.signals import recording
from tests.conftest import received

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]

H = timedelta(hours=1)
SIGNING_SECRET = "whsec-independent-check-123"


def run(clock):
    return check_run.run_check(now=clock.now(), sleep=lambda seconds: None)


@pytest.fixture
def quiet_env(no_channels, settings, httpserver):
    """No channel from the environment: only the database's, pointed at the local server."""
    settings.SITE_URL = "https://cron.example.com"
    settings.ALERT_THROTTLE = False
    settings.ALERT_RETRIES_PER_RUN = 0
    settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("/v2/enqueue")
    return httpserver


def test_a_signed_webhook_carries_the_documented_body_and_a_verifiable_signature(
    quiet_env, make_job, make_channel, clock
):
    quiet_env.expect_request("/hook", method="POST").respond_with_data("ok")
    secrets = {
        "url": quiet_env.url_for("/hook"),
        "signing_secret": SIGNING_SECRET,
        "headers": {"X-Team": "data"},
    }
    make_channel("ops-hook", "webhook", is_default=True, secrets=secrets)
    job = make_job("backup", age=H, last_outcome="fail", status="failed")
    PingEvent.objects.create(
        job=job, kind="fail", created_at=clock.now() - H, exit_status=3, body="disk full"
    )
    run(clock)
    (request,) = received(quiet_env, "/hook")
    raw = request.get_data()
    timestamp = request.headers["X-Cronmonitor-Timestamp"]
    assert timestamp == str(int(clock.now().timestamp()))
    expected = hmac.new(SIGNING_SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    assert request.headers["X-Cronmonitor-Signature"] == "sha256=" + expected.hexdigest()
    assert request.headers["X-Team"] == "data"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    alert = AlertDelivery.objects.get().alert
    assert request.headers["X-Cronmonitor-Delivery"] == f"cronmonitor-{alert.id}-" + str(
        AlertDelivery.objects.get().channel
    )
    assert body["event"] == "failed"
    assert body["alert_id"] == str(alert.id)
    assert body["job"] == {
        "name": "backup",
        "uuid": str(job.uuid),
        "state": "down",
        "due_at": (clock.now() + 23 * H).isoformat(),  # no schedule: STALE_AFTER_HOURS
        "last_run_at": (clock.now() - H).isoformat(),
        "exit_status": 3,
        "output": "disk full",
        "admin_url": "https://cron.example.com/admin/heartbeats/jobheartbeat/backup/change/",
    }
    assert body["summary"].startswith("[cronmonitor] backup")


def test_a_forged_body_fails_the_signature(quiet_env, make_job, make_channel, clock):
    quiet_env.expect_request("/hook").respond_with_data("ok")
    make_channel(
        "hook",
        "webhook",
        is_default=True,
        secrets={"url": quiet_env.url_for("/hook"), "signing_secret": SIGNING_SECRET},
    )
    make_job("backup", age=30 * H)
    run(clock)
    (request,) = received(quiet_env, "/hook")
    timestamp, raw = request.headers["X-Cronmonitor-Timestamp"], request.get_data()
    forged = raw.replace(b'"down"', b'"up"')
    mac = hmac.new(SIGNING_SECRET.encode(), f"{timestamp}.".encode() + forged, hashlib.sha256)
    assert request.headers["X-Cronmonitor-Signature"] != "sha256=" + mac.hexdigest()


def test_pagerduty_triggers_once_per_incident_through_retries_and_resolves_it(
    quiet_env, make_job, make_channel, clock
):
    pagerduty = make_channel(
        "pager",
        "pagerduty",
        is_default=True,
        secrets={"routing_key": "R0UTINGKEY0123456789abcdef012345"},
    )
    job = make_job("backup", age=30 * H)
    quiet_env.expect_oneshot_request("/v2/enqueue").respond_with_data("busy", status=503)
    quiet_env.expect_request("/v2/enqueue").respond_with_json(
        {"status": "success", "message": "Event processed", "dedup_key": "x"}, status=202
    )
    run(clock)  # 503: retried on a later pass
    assert AlertDelivery.objects.get().state == "pending"
    clock.advance(minutes=3)
    run(clock)
    assert AlertDelivery.objects.get().state == "sent"
    first, retried = (json.loads(r.get_data()) for r in received(quiet_env, "/v2/enqueue"))
    assert first == retried
    dedup_key = f"cronmonitor-{job.uuid}-{clock.now().replace(minute=0).isoformat()}"
    assert first["routing_key"] == "R0UTINGKEY0123456789abcdef012345"
    assert first["event_action"] == "trigger"
    assert first["dedup_key"] == dedup_key
    assert first["payload"]["summary"] == "[cronmonitor] backup is DOWN: no heartbeat, 6 h overdue"
    assert first["payload"]["source"] == "backup"
    assert first["payload"]["severity"] == "critical"
    assert first["links"][0]["href"].endswith("/jobheartbeat/backup/change/")

    clock.advance(hours=1)
    recording.record_signal(job_name="backup", now=clock.now())
    run(clock)
    resolve = json.loads(received(quiet_env, "/v2/enqueue")[-1].get_data())
    assert resolve == {
        "routing_key": "R0UTINGKEY0123456789abcdef012345",
        "event_action": "resolve",
        "dedup_key": dedup_key,
    }
    assert not ChannelStatus.objects.filter(channel=pagerduty.key).exists()


def test_a_failed_run_pages_as_error_severity(quiet_env, make_job, make_channel, clock):
    quiet_env.expect_request("/v2/enqueue").respond_with_json({"status": "success"}, status=202)
    make_channel("pager", "pagerduty", is_default=True, secrets={"routing_key": "rk-1234"})
    make_job("backup", age=H, last_outcome="fail", status="failed")
    run(clock)
    (event,) = (json.loads(r.get_data()) for r in received(quiet_env, "/v2/enqueue"))
    assert event["payload"]["severity"] == "error"


def test_pagerduty_refusing_the_event_marks_that_channel_broken(
    quiet_env, make_job, make_channel, clock
):
    quiet_env.expect_request("/v2/enqueue").respond_with_json(
        {"status": "invalid event", "message": "Event object is invalid"}, status=400
    )
    pagerduty = make_channel("pager", "pagerduty", is_default=True, secrets={"routing_key": "k"})
    make_job("backup", age=30 * H)
    result = run(clock)
    delivery = AlertDelivery.objects.get()
    assert (delivery.state, delivery.last_error) == (
        "failed",
        "pager: HTTP 400 (Event object is invalid)",
    )
    assert ChannelStatus.objects.get(channel=pagerduty.key).broken_since == clock.now()
    assert any("pager" in error for error in result.errors)


def test_teams_gets_an_adaptive_card_through_its_workflow_webhook(
    quiet_env, make_job, make_channel, clock
):
    quiet_env.expect_request("/workflow").respond_with_data("", status=202)
    make_channel(
        "teams", "msteams", is_default=True, secrets={"url": quiet_env.url_for("/workflow")}
    )
    make_job("backup", age=30 * H)
    run(clock)
    (request,) = received(quiet_env, "/workflow")
    body = json.loads(request.get_data())
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "[cronmonitor] backup is DOWN: no heartbeat, 6 h overdue"
    assert card["actions"][0]["url"] == (
        f"{django_settings.SITE_URL}/admin/heartbeats/jobheartbeat/backup/change/"
    )
