"""Where alerts go: a job's named channels plus its tags' channels, else the default ones (the
environment's included); recoveries only where notify_up; a broken channel leaves the others
delivering; routing costs the same queries for any number of jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heartbeats.alerts import check_run, routing
from heartbeats.models import Alert, AlertDelivery, ChannelStatus, JobHeartbeat
from heartbeats.signals import recording
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]

H = timedelta(hours=1)


def run(clock):
    return check_run.run_check(now=clock.now(), sleep=lambda seconds: None)


@pytest.fixture
def hooks(slack_ok, email_ok, make_channel):
    """Slack and email from the environment, and webhooks kept in the database."""
    for path in ("/data", "/nightly", "/extra"):
        slack_ok.expect_request(path).respond_with_data("ok")

    def hook(name: str, **fields):
        return make_channel(
            name, "webhook", secrets={"url": slack_ok.url_for(f"/{name}")}, **fields
        )

    return slack_ok, hook


def paths(server) -> list[str]:
    return sorted(request.path.replace(SLACK_SECRET_PATH, "slack") for request, _ in server.log)


def test_a_job_naming_no_channel_and_matching_no_tag_goes_to_the_defaults(hooks, make_job, clock):
    server, hook = hooks
    hook("data", tags="data")
    hook("extra", is_default=True)
    make_job("backup", age=30 * H, tags="nightly")
    run(clock)
    assert paths(server) == ["/extra", "/resend/emails", "slack"]


def test_a_tag_routes_to_its_channel_and_not_to_the_defaults(hooks, make_job, clock):
    server, hook = hooks
    hook("data", tags="warehouse data")
    hook("extra", is_default=True)
    make_job("etl", age=30 * H, tags="nightly data")
    run(clock)
    assert paths(server) == ["/data"]
    job = JobHeartbeat.objects.get(pk="etl")
    assert [(t.name, why) for t, why in routing.job_routes(job)] == [("data", "via tag data")]


def test_named_channels_and_tag_channels_add_up(hooks, make_job, clock):
    server, hook = hooks
    data, nightly = hook("data", tags="data"), hook("nightly")
    job = make_job("etl", age=30 * H, tags="data")
    job.channels.add(nightly)
    run(clock)
    assert paths(server) == ["/data", "/nightly"]
    assert sorted((t.name, why) for t, why in routing.job_routes(job)) == [
        ("data", "via tag data"), ("nightly", "explicit"),
    ]  # fmt: skip
    assert set(AlertDelivery.objects.values_list("channel", flat=True)) == {data.key, nightly.key}


def test_recoveries_go_only_to_channels_that_notify_of_them(hooks, make_job, clock):
    server, hook = hooks
    hook("data", tags="data")
    hook("nightly", tags="data", notify_up=False)
    make_job("etl", age=30 * H, tags="data")
    run(clock)
    clock.advance(hours=1)
    recording.record_signal(job_name="etl", now=clock.now())
    run(clock)
    recovery = Alert.objects.get(kind="recovery")
    assert [d.channel for d in recovery.deliveries.all()] == [
        str(routing.load_targets()[d.channel].key) for d in recovery.deliveries.all()
    ]
    assert paths(server) == ["/data", "/data", "/nightly"]


def test_a_permanent_error_on_one_channel_leaves_the_others_delivering(hooks, make_job, clock):
    server, hook = hooks
    gone = hook("gone", tags="data")
    server.expect_request("/gone").respond_with_data("no such hook", status=410)
    hook("data", tags="data")
    make_job("etl", age=30 * H, tags="data")
    result = run(clock)
    states = dict(AlertDelivery.objects.values_list("channel", "state"))
    assert states[gone.key] == "failed"
    assert sorted(states.values()) == ["failed", "sent"]
    assert ChannelStatus.objects.get(channel=gone.key).broken_since == clock.now()
    assert result.errors == [
        "gone: HTTP 410 (no such hook) - permanent, not retried: the channel is marked broken "
        "until its configuration is fixed and `manage.py send_test_alert` gets through"
    ]
    # The recovery and the next incident: the broken channel gets nothing, the other both.
    clock.advance(hours=1)
    recording.record_signal(job_name="etl", now=clock.now())
    run(clock)
    clock.advance(hours=1)
    recording.record_signal(job_name="etl", now=clock.now(), kind="fail")
    run(clock)
    assert paths(server) == ["/data", "/data", "/data", "/gone"]
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {"sent", "failed"}


def test_routing_a_pass_takes_the_same_queries_for_any_number_of_jobs(make_job, make_channel):
    channels = [make_channel(f"c{i}", "webhook", tags=f"t{i}", secrets={"url": "http://x"})
                for i in range(5)]  # fmt: skip
    counts = []
    for size in (3, 60):
        Alert.objects.all().delete()
        jobs = [make_job(f"job-{size}-{i}", tags=f"t{i % 5} other") for i in range(size)]
        for job in jobs:
            job.channels.add(channels[0])
        alerts = [Alert(job=job, kind="down", created_at=T0) for job in jobs]
        targets = routing.load_targets()
        with CaptureQueriesContext(connection) as captured:
            planned = routing.plan(alerts, targets, broken=set())
        counts.append(len(captured))
        assert all(channels[0].key in keys for keys in planned.values())
    assert counts == [1, 1]


def test_the_job_page_says_where_its_alerts_go_and_why(hooks, make_job, admin_client):
    _, hook = hooks
    hook("data", tags="data")
    job = make_job("etl", tags="data")
    page = admin_client.get(f"/admin/heartbeats/jobheartbeat/{job.pk}/change/").content.decode()
    assert "<td>data</td><td>Webhook</td><td>via tag data</td>" in page
    plain = make_job("plain")
    page = admin_client.get(f"/admin/heartbeats/jobheartbeat/{plain.pk}/change/").content.decode()
    assert "<td>slack (from environment)</td><td>Slack</td><td>default</td>" in page


def test_a_digest_per_channel_holds_the_jobs_routed_to_it(
    slack_ok, email_ok, make_channel, make_job, clock, settings
):
    settings.ALERT_DIGEST_THRESHOLD = 1
    slack_ok.expect_request("/teams").respond_with_data("", status=202)
    make_channel("data-teams", "msteams", tags="data", secrets={"url": slack_ok.url_for("/teams")})
    for name, tags in (("etl-a", "data"), ("etl-b", "data"), ("web-c", ""), ("web-d", "")):
        make_job(name, age=30 * H, tags=tags)
    run(clock)
    (teams,) = received(slack_ok, "/teams")
    (slack,) = received(slack_ok, SLACK_SECRET_PATH)
    card_text = teams.get_data(as_text=True)
    slack_text = slack.get_data(as_text=True)
    assert "etl-a" in card_text and "etl-b" in card_text
    assert "web-c" not in card_text and "web-d" not in card_text
    assert "web-c" in slack_text and "web-d" in slack_text
    assert "etl-a" not in slack_text and "etl-b" not in slack_text


def test_a_channel_in_the_database_is_enough_for_the_system_check(no_channels, make_channel):
    from django.core.checks import run_checks

    assert "heartbeats.W001" in [m.id for m in run_checks()]
    make_channel("hook", "webhook", is_default=True, secrets={"url": "https://example.com/h"})
    assert "heartbeats.W001" not in [m.id for m in run_checks()]


def test_metrics_count_a_database_channel_under_its_name(make_job, make_alert, make_channel):
    from heartbeats.reporting import prometheus

    hook = make_channel("ops-hook", "webhook", secrets={"url": "https://example.com/h"})
    job = make_job("etl")
    make_alert(job, channels=(hook.key, "slack"), state="sent")
    text = b"".join(prometheus.exposition(now=T0)).decode()
    assert 'cronmonitor_alerts_sent_total{channel="ops-hook"} 1.0' in text
    assert 'cronmonitor_alerts_sent_total{channel="slack"} 1.0' in text
    assert hook.key not in text


def test_the_summary_counts_a_database_channels_failures_under_its_name(
    make_job, make_alert, make_channel
):
    from heartbeats.reporting import summary_figures

    hook = make_channel("ops-hook", "webhook", secrets={"url": "https://example.com/h"})
    make_alert(make_job("etl"), channels=(hook.key,), state="failed", last_error="ops-hook: 410")
    failures = summary_figures.delivery_failures(since=T0 - 2 * H, until=T0)
    assert {name: (f.failed, f.errored) for name, f in failures.items()} == {
        "slack": (0, 0), "email": (0, 0), "ops-hook": (1, 1),
    }  # fmt: skip
