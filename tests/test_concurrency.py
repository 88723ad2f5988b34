"""Several checkers at once, and a checker killed mid-run: every alert delivered once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from werkzeug import Response

from heartbeats.alerts import check_run, outbox
from heartbeats.models import AlertDelivery, JobHeartbeat
from tests.conftest import SLACK_SECRET_PATH, at_once, received

pytestmark = pytest.mark.django_db(transaction=True)

H = timedelta(hours=1)
# A claim batch far smaller than the work, so checkers share it.
SMALL_BATCH = 2
# A checker process with that batch: the constant patched before the command runs.
CHECKER_WITH_SMALL_BATCH = f"""
import django
django.setup()
from heartbeats.alerts import outbox
outbox.CLAIM_BATCH = {SMALL_BATCH}
from django.core.management import call_command
call_command("run_healthcheck", "--json")
"""


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
        "DJANGO_SETTINGS_MODULE": "cronmonitor.settings",
    }


def slow_ok(request) -> Response:
    threading.Event().wait(0.05)  # a slow webhook widens every race window
    return Response("ok")


class Meeting:
    """A receiver whose first two requests are answered only once both have arrived: one
    checker sends one message at a time, so a meeting proves two checkers sent at once."""

    def __init__(self) -> None:
        self._barrier = threading.Barrier(2)
        self._arrived = 0
        self._lock = threading.Lock()
        self.met = False

    def __call__(self, request) -> Response:
        with self._lock:
            self._arrived += 1
            first_two = self._arrived <= 2
        if first_two:
            try:
                self._barrier.wait(timeout=30)
                self.met = True
            except threading.BrokenBarrierError:
                pass
        return slow_ok(request)


@pytest.fixture
def meeting(channels, settings) -> Meeting:
    settings.ALERT_READ_TIMEOUT = 40  # the first request may wait for the second checker
    receiver = Meeting()
    channels.expect_request(SLACK_SECRET_PATH).respond_with_handler(receiver)
    channels.expect_request("/resend/emails").respond_with_handler(receiver)
    return receiver


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


def test_two_checker_threads_share_the_work_and_deliver_each_alert_once(
    channels, meeting, settings, monkeypatch
):
    settings.ALERT_DIGEST_THRESHOLD = 1000
    settings.OUTAGE_MIN_JOBS = 1000
    monkeypatch.setattr(outbox, "CLAIM_BATCH", SMALL_BATCH)
    make_stale(12)
    results: list[check_run.CheckResult] = []
    now = timezone.now()  # one moment: what one checker decides is due for the other too
    errors = at_once(lambda _: results.append(check_run.run_check(now=now, trigger="cron")), 2)
    assert errors == []
    assert_each_alert_delivered_once(channels, 12)
    # An alert is counted by the checker that closed it, with its last channel.
    assert meeting.met
    assert sum(r.alerts_sent for r in results) == 12  # each closed by one of them


def test_four_checker_processes_share_the_work_and_deliver_each_alert_once(
    channels, meeting, settings
):
    make_stale(20)
    command = [sys.executable, "-c", CHECKER_WITH_SMALL_BATCH]
    env = {**checker_env(settings), "ALERT_READ_TIMEOUT": "40"}
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert_each_alert_delivered_once(channels, 20)
    sent = [json.loads(out)["alerts_sent"] for out, _ in outputs]
    assert sum(sent) == 20
    assert meeting.met


def test_crash_between_deciding_and_sending(channels, monkeypatch, slack_ok, email_ok):
    """The decision is committed before delivery starts; a rerun sends it exactly once."""
    make_stale(1)

    def crash(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(check_run.delivery, "deliver_pending", crash)
    with pytest.raises(SystemExit):
        check_run.run_check(now=timezone.now())
    assert AlertDelivery.objects.filter(state="pending").count() == 2
    monkeypatch.undo()
    first = check_run.run_check(now=timezone.now(), sleep=lambda s: None)
    second = check_run.run_check(now=timezone.now(), sleep=lambda s: None)
    assert (first.alerts_sent, second.alerts_sent) == (1, 0)
    assert len(received(slack_ok, SLACK_SECRET_PATH)) == 1
    assert len(received(email_ok, "/resend/emails")) == 1
