"""Several checkers at once, and a checker killed mid-run: every alert delivered once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from werkzeug import Response

from heartbeats import checker
from heartbeats.models import AlertDelivery, JobHeartbeat
from tests.conftest import SLACK_SECRET_PATH, at_once, received

pytestmark = pytest.mark.django_db(transaction=True)

H = timedelta(hours=1)


def database_url() -> str:
    db = django_settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def checker_env(settings) -> dict:
    """The environment a checker process needs to share this test's database and channels."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SLACK_WEBHOOK_URL": settings.SLACK_WEBHOOK_URL,
        "RESEND_API_KEY": settings.RESEND_API_KEY,
        "RESEND_FROM": settings.RESEND_FROM,
        "ALERT_EMAIL_TO": ",".join(settings.ALERT_EMAIL_TO),
        "RESEND_API_URL": settings.RESEND_API_URL,
        "ALERT_THROTTLE": "false",
        "ALERT_RETRIES_PER_RUN": "0",
        "ALERT_DIGEST_THRESHOLD": "1000",
        "OUTAGE_MIN_JOBS": "1000",
        "CRONMONITOR_ENV_FILE": "/dev/null",
    }


def slow_ok(request) -> Response:
    threading.Event().wait(0.05)  # a slow webhook widens every race window
    return Response("ok")


def make_stale(count: int) -> None:
    now = timezone.now()
    JobHeartbeat.objects.bulk_create(
        [
            JobHeartbeat(job_name=f"job-{i}", last_run_at=now - 30 * H, n_runs=1)
            for i in range(count)
        ]
    )


def assert_each_alert_delivered_once(server, count: int) -> None:
    slack = [r.get_json()["text"].split(" ", 1)[0] for r in received(server, SLACK_SECRET_PATH)]
    email = [r.get_json()["subject"].split(" ")[1] for r in received(server, "/resend/emails")]
    expected = sorted(f"job-{i}" for i in range(count))
    assert sorted(slack) == expected
    assert sorted(email) == expected
    assert AlertDelivery.objects.filter(state="sent").count() == 2 * count


def test_two_checker_threads_deliver_each_alert_once(channels, settings):
    settings.ALERT_DIGEST_THRESHOLD = 1000
    settings.OUTAGE_MIN_JOBS = 1000
    channels.expect_request(SLACK_SECRET_PATH).respond_with_handler(slow_ok)
    channels.expect_request("/resend/emails").respond_with_handler(slow_ok)
    make_stale(12)
    errors = at_once(lambda _: checker.run_check(now=timezone.now(), trigger="cron"), 2)
    assert errors == []
    assert_each_alert_delivered_once(channels, 12)


def test_four_checker_processes_deliver_each_alert_once(channels, settings):
    channels.expect_request(SLACK_SECRET_PATH).respond_with_handler(slow_ok)
    channels.expect_request("/resend/emails").respond_with_handler(slow_ok)
    make_stale(20)
    command = [sys.executable, "manage.py", "run_healthcheck", "--json"]
    env = checker_env(settings)
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert_each_alert_delivered_once(channels, 20)


def test_checker_killed_mid_run_loses_nothing_and_sends_once(channels, settings, make_job):
    """SIGKILL while Slack hangs: the rerun sends Slack once more and email exactly once."""
    arrived, release = threading.Event(), threading.Event()

    def hang(request) -> Response:
        arrived.set()
        release.wait(30)
        return Response("ok")

    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_handler(hang)
    make_stale(1)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_healthcheck"],
        env=checker_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert arrived.wait(60), "the checker never reached Slack"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        release.set()
    assert received(channels, "/resend/emails") == []
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {"pending"}

    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    channels.expect_request("/resend/emails").respond_with_json({"id": "1"})
    after_lease = timezone.now() + timedelta(seconds=settings.ALERT_DELIVERY_LEASE_SECONDS + 1)
    with time_machine.travel(after_lease, tick=False):
        result = checker.run_check(now=timezone.now(), sleep=lambda s: None)
    assert result.alerts_sent == 1
    assert len(received(channels, "/resend/emails")) == 1
    assert AlertDelivery.objects.filter(state="sent").count() == 2


def test_crash_between_deciding_and_sending(channels, monkeypatch, slack_ok, email_ok):
    """The decision is committed before delivery starts; a rerun sends it exactly once."""
    make_stale(1)

    def crash(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(checker.delivery, "deliver_pending", crash)
    with pytest.raises(SystemExit):
        checker.run_check(now=timezone.now())
    assert AlertDelivery.objects.filter(state="pending").count() == 2
    monkeypatch.undo()
    first = checker.run_check(now=timezone.now(), sleep=lambda s: None)
    second = checker.run_check(now=timezone.now(), sleep=lambda s: None)
    assert (first.alerts_sent, second.alerts_sent) == (1, 0)
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1
    assert len(received(email_ok, "/resend/emails")) == 1
