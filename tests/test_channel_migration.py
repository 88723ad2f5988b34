"""An upgraded deployment: rows written by today's schema (0010) keep their meaning after
`migrate`: deliveries and channel statuses "slack" and "email" are the environment's channels,
which keep delivering, and no channel is copied into the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from heartbeats.alerts import check_run, delivery
from heartbeats.models import AlertDelivery, Channel, ChannelStatus
from tests.conftest import SLACK_SECRET_PATH, T0, received

BEFORE = ("heartbeats", "0010_job_tags")


@pytest.mark.django_db(transaction=True)
def test_an_upgraded_deployment_keeps_delivering_on_the_environment_channels(
    slack_ok, clock, six_hourly_checker
):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state(BEFORE).apps
    job = old.get_model("heartbeats", "JobHeartbeat").objects.create(
        job_name="backup", last_run_at=T0 - timedelta(hours=30), n_runs=1
    )
    alert = old.get_model("heartbeats", "Alert").objects.create(
        job=job, kind="down", created_at=T0 - timedelta(minutes=1)
    )
    made = T0 - timedelta(minutes=1)
    deliveries = old.get_model("heartbeats", "AlertDelivery").objects
    deliveries.create(alert=alert, channel="slack", created_at=made, next_attempt_at=made)
    deliveries.create(alert=alert, channel="email", created_at=made, state="failed")
    old.get_model("heartbeats", "ChannelStatus").objects.create(
        channel="email", broken_since=made, last_error="email: HTTP 401 (API key is invalid)"
    )

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Channel.objects.count() == 0  # the environment's channels are never copied
    delivery.deliver_pending(now=T0, sleep=lambda seconds: None)
    assert dict(AlertDelivery.objects.values_list("channel", "state")) == {
        "slack": "sent", "email": "failed",
    }  # fmt: skip
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    assert "backup" in request.get_data(as_text=True)
    broken = [m.msg for m in run_checks() if m.id == "heartbeats.W003"]
    assert broken == ["Alert channel email is broken since 2026-03-02 11:59 UTC: "
                      "email: HTTP 401 (API key is invalid)"]  # fmt: skip

    # A new alert goes to the working environment channel only, keyed as before.
    clock.advance(hours=7)
    result = check_run.run_check(now=clock.now(), sleep=lambda seconds: None)
    assert result.channels == ["slack", "email"]
    new = AlertDelivery.objects.filter(created_at=clock.now())
    assert [(d.channel, d.state) for d in new] == [("slack", "sent")]
    assert ChannelStatus.objects.get(channel="email").broken_since == made
