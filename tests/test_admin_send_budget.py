"""The admin buttons that run the checker answer within their sending budget, even when a
webhook never answers: what is not sent stays pending for the next pass, and the page says so."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse

from heartbeats.admin import actions
from heartbeats.alerts import check_run
from heartbeats.models import AlertDelivery
from tests.admin_support import CHANGELIST, staff_client
from tests.conftest import SLACK_SECRET_PATH, received

H = timedelta(hours=1)
# The whole answer, well under the 10 s promised, though the webhook would wait a minute.
SAFETY_BOUND_SECONDS = 8


@pytest.fixture
def budget(hanging_slack, email_ok, settings, monkeypatch):
    """A Slack that never answers, request timeouts of a minute and in-run retries on: only
    the budget can end the wait."""
    settings.ALERT_CONNECT_TIMEOUT = 60
    settings.ALERT_READ_TIMEOUT = 60
    settings.ALERT_RETRIES_PER_RUN = 2
    monkeypatch.setattr(actions, "SEND_BUDGET_SECONDS", 1.5)
    return email_ok


def post_timed(client, url: str, data: dict | None = None) -> tuple[list[str], float]:
    started = time.monotonic()
    response = client.post(url, data or {}, follow=True)
    elapsed = time.monotonic() - started
    return [str(message) for message in response.context["messages"]], elapsed


def assert_left_pending_then_sent(server, clock, settings) -> None:
    """Slack timed out (retried in 2 min, as any timeout); email was never started."""
    slack = AlertDelivery.objects.get(channel="slack")
    assert (slack.state, slack.attempts, slack.last_error) == ("pending", 1, "slack: timed out")
    email = AlertDelivery.objects.get(channel="email")
    assert (email.state, email.attempts, email.lease_until) == ("pending", 0, None)
    assert received(server, "/resend/emails") == []
    settings.SLACK_WEBHOOK_URL = server.url_for(SLACK_SECRET_PATH)
    server.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    result = check_run.run_check(now=clock.advance(minutes=2), sleep=lambda seconds: None)
    assert result.alerts_sent == 1
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {"sent"}


def test_run_health_check_now_answers_within_its_budget(budget, make_job, clock, settings):
    make_job("backup", age=30 * H, now=clock.now())
    client = staff_client("view_jobheartbeat", "change_jobheartbeat")
    messages, elapsed = post_timed(client, reverse("admin:heartbeats_jobheartbeat_run_check"))
    assert elapsed < SAFETY_BOUND_SECONDS
    assert messages == [
        "Health check finished: Checked 1 job (manual): 1 with a problem (1 down), 1 of them "
        "stale: 1 pending; 1 alert with a failed delivery; 1 delivery waiting to retry, next at "
        "2026-03-02 12:02 UTC. 1 delivery was not sent within 1.5 s and stays pending: the next "
        "checker pass sends it."
    ]
    assert_left_pending_then_sent(budget, clock, settings)


def test_force_alert_answers_within_its_budget(budget, make_job, clock, settings):
    make_job("backup", age=30 * H, now=clock.now())
    client = staff_client("view_jobheartbeat", "change_jobheartbeat")
    data = {"action": "force_alert", "_selected_action": ["backup"], "index": 0}
    messages, elapsed = post_timed(client, reverse(CHANGELIST), data)
    assert elapsed < SAFETY_BOUND_SECONDS
    assert messages == [
        "Forced a check of 1 job: backup: pending (down). 1 delivery was not sent within 1.5 s "
        "and stays pending: the next checker pass sends it."
    ]
    assert_left_pending_then_sent(budget, clock, settings)
