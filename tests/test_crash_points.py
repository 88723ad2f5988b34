"""A checker pass killed after any one of its writes: the next pass finishes the job.

Every write statement of a pass (deciding, claiming, each message's record and close, the
run's finish) is a crash point, taken twice where it is inside a transaction: right after the
statement (the transaction is lost) and right after its commit. The crash is a BaseException
raised from the database layer, which nothing in the checker catches; one more case kills a
real checker process with SIGKILL while a webhook hangs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from werkzeug import Response

from heartbeats.alerts import check_run
from heartbeats.models import Alert, AlertDelivery, CheckRun, JobHeartbeat
from heartbeats.signals import recording
from tests.conftest import SLACK_SECRET_PATH, T0, received
from tests.test_concurrency import checker_env

pytestmark = pytest.mark.django_db(transaction=True)

H = timedelta(hours=1)
# Two jobs are enough for every path: a message that leaves its alert open (another
# delivery pending) and the last one that closes it; a third only repeats the first.
JOBS = ["job-a", "job-b"]
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


class Killed(BaseException):
    """The process dying: not an Exception, so no handler in the checker sees it."""


class Writes:
    """An execute wrapper that lists write statements, and dies after the `kill_at`-th one
    (1-based): at once, or once the transaction holding it commits (`after_commit`)."""

    def __init__(self, kill_at: int = 0, *, after_commit: bool = False) -> None:
        self.kill_at = kill_at
        self.after_commit = after_commit
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, execute: Callable, sql: str, params, many: bool, context) -> object:
        result = execute(sql, params, many, context)
        if WRITE.match(sql):
            in_transaction = connection.in_atomic_block
            self.seen.append((sql, in_transaction))
            if len(self.seen) == self.kill_at:
                if self.after_commit and in_transaction:
                    transaction.on_commit(self._kill)
                else:
                    self._kill()
        return result

    def _kill(self) -> None:
        raise Killed(f"killed after write {self.kill_at}")


@pytest.fixture
def scene(settings, slack_ok, email_ok):
    settings.OUTAGE_MIN_JOBS = 1000
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 * *"  # no checker-gap outage between the passes
    return slack_ok


def make_stale(now: datetime) -> None:
    """The jobs, silent for 32 and 31 hours: decided, and so sent, in that order."""
    JobHeartbeat.objects.bulk_create(
        JobHeartbeat(job_name=name, last_run_at=now - age, created_at=now - age, n_runs=1)
        for name, age in zip(JOBS, (32 * H, 31 * H), strict=True)
    )


def reset(server) -> None:
    JobHeartbeat.objects.all().delete()
    Alert.objects.all().delete()
    CheckRun.objects.all().delete()
    server.clear_log()


def run(now: datetime) -> check_run.CheckResult:
    return check_run.run_check(now=now, sleep=lambda seconds: None)


def assert_invariants(server, *, where: str) -> None:
    """Every alert reached both channels; email once per alert (one Idempotency-Key, one
    body); at most one Slack message twice (the one in flight); nothing left open."""
    emails: dict[str, set[bytes]] = {}
    for request in received(server, "/resend/emails"):
        emails.setdefault(request.headers["Idempotency-Key"], set()).add(request.get_data())
    assert all(len(bodies) == 1 for bodies in emails.values()), where
    email_texts = [next(iter(bodies)).decode() for bodies in emails.values()]
    slack_texts = [r.get_data(as_text=True) for r in received(server, SLACK_SECRET_PATH)]
    for name in JOBS:
        assert sum(f"{name} is DOWN" in text for text in email_texts) == 1, (where, name)
        assert any(f"{name} is DOWN" in text for text in slack_texts), (where, name)
    assert sum(n - 1 for n in Counter(slack_texts).values()) <= 1, where
    pending = AlertDelivery.objects.filter(alert=OuterRef("pk"), state="pending")
    assert not Alert.objects.filter(done=False).exists(), where
    assert not Alert.objects.filter(Exists(pending)).exists(), where
    assert set(AlertDelivery.objects.values_list("state", flat=True)) == {"sent"}, where
    alerted = JobHeartbeat.objects.filter(job_name__in=JOBS, alerted=True)
    assert alerted.exclude(last_alert_at=None).count() == len(JOBS), where


def assert_still_alertable(now: datetime, *, where: str) -> None:
    """Each job recovers, then goes silent again: it is alerted anew."""
    for name in JOBS:
        recording.record_signal(job_name=name, now=now)
    assert run(now).recoveries == len(JOBS), where
    later = run(now + 30 * H)
    sent = [job.job_name for job in later.jobs if job.action == "sent"]
    assert sorted(set(sent) & set(JOBS)) == JOBS, where


@pytest.mark.parametrize("digest_threshold", [5, 1], ids=["one-message-each", "digest"])
def test_a_pass_killed_after_any_write_is_finished_by_the_next(
    scene, settings, clock, digest_threshold
):
    settings.ALERT_DIGEST_THRESHOLD = digest_threshold
    make_stale(clock.now())
    reference = Writes()
    with connection.execute_wrapper(reference):
        run(clock.now())
    assert len(reference.seen) > 10
    points = [(n, False) for n in range(1, len(reference.seen) + 1)]
    points += [(n, True) for n, (_, in_tx) in enumerate(reference.seen, 1) if in_tx]
    for kill_at, after_commit in points:
        where = f"killed after write {kill_at} {'committed' if after_commit else 'executed'}"
        where += f": {reference.seen[kill_at - 1][0][:120]}"
        reset(scene)
        start = clock.set(T0)
        make_stale(start)
        killer = Writes(kill_at, after_commit=after_commit)
        with connection.execute_wrapper(killer), pytest.raises(Killed):
            run(start)
        after_lease = clock.advance(seconds=settings.ALERT_DELIVERY_LEASE_SECONDS + 1)
        run(after_lease)
        assert_invariants(scene, where=where)
        assert_still_alertable(clock.advance(minutes=1), where=where)


def test_a_checker_process_killed_mid_send_repeats_only_the_message_in_flight(scene, settings):
    """SIGKILL while Slack hangs on the second message: the first stays recorded as sent."""
    settings.ALERT_DIGEST_THRESHOLD = 1000
    arrived, release = threading.Event(), threading.Event()

    def hang(request) -> Response:
        arrived.set()
        release.wait(30)
        return Response("ok")

    scene.clear_all_handlers()
    scene.expect_ordered_request(SLACK_SECRET_PATH).respond_with_data("ok")
    scene.expect_ordered_request(SLACK_SECRET_PATH).respond_with_handler(hang)
    scene.expect_request("/resend/emails").respond_with_json({"id": "e-1"})
    start = timezone.now()
    make_stale(start)
    env = {**checker_env(settings), "HEALTHCHECK_SCHEDULE": settings.HEALTHCHECK_SCHEDULE}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_healthcheck"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert arrived.wait(60), "the checker never reached Slack a second time"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        release.set()
    for _ in range(500):  # the released answer is logged a moment later
        if len(received(scene, SLACK_SECRET_PATH)) == 2:
            break
        threading.Event().wait(0.01)
    states = Counter(AlertDelivery.objects.values_list("channel", "state"))
    assert states == {("slack", "sent"): 1, ("slack", "pending"): 1, ("email", "pending"): 2}

    scene.clear_all_handlers()
    scene.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    scene.expect_request("/resend/emails").respond_with_json({"id": "e-1"})
    after_lease = timezone.now() + timedelta(seconds=settings.ALERT_DELIVERY_LEASE_SECONDS + 1)
    with time_machine.travel(after_lease, tick=False):
        run(timezone.now())
        assert_invariants(scene, where="SIGKILL")
        slack = [r.get_json()["text"].split(" ")[0] for r in received(scene, SLACK_SECRET_PATH)]
        assert sorted(slack) == ["job-a", "job-b", "job-b"]  # job-b was in flight
        assert_still_alertable(timezone.now() + timedelta(minutes=1), where="SIGKILL")
