"""Saving a job in the admin writes what the operator edited onto the row as it is by then: a
ping landing after the page was loaded, or while the save runs, is kept."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from heartbeats.models import EventKind, JobHeartbeat
from heartbeats.signals import recording
from tests.admin_support import as_shown, change_url, staff_client

HOUR = timedelta(hours=1)
GRACE = timedelta(minutes=20)


@pytest.fixture
def editor(db, clock, make_job):
    job = make_job("backup", age=3 * HOUR, period=HOUR, metadata={"rows": 1})
    client = staff_client("view_jobheartbeat", "add_jobheartbeat", "change_jobheartbeat")
    return client, job


def failing_ping(now: datetime) -> recording.SignalResult:
    return recording.record_signal(
        job_name="backup", kind=EventKind.FAIL, status="disk-full", metadata={"rows": 2}, now=now
    )


def assert_ping_kept(now: datetime) -> None:
    job = JobHeartbeat.objects.get(pk="backup")
    assert (job.last_run_at, job.n_runs, job.last_outcome) == (now, 2, "fail")
    assert (job.status, job.metadata) == ("disk-full", {"rows": 2})
    assert job.grace == GRACE
    assert job.due_at == now + HOUR + GRACE


@contextmanager
def after_first_read_of(
    table: str, action: Callable[[], None], *, containing: str = ""
) -> Iterator[None]:
    """Run `action` once, right after the first query that reads `table` (and contains
    `containing`): between the admin reading the row and writing it."""
    done = threading.Event()

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if (
            not done.is_set()
            and sql.startswith("SELECT")
            and f'FROM "{table}"' in sql
            and containing in sql
        ):
            done.set()
            action()
        return result

    with connection.execute_wrapper(wrapper):
        yield
    assert done.is_set()


def test_a_ping_between_loading_and_posting_the_form_is_kept(editor, clock):
    client, job = editor
    data = as_shown(client, job, grace="00:20:00")
    failing_ping(clock.advance(minutes=5))
    assert client.post(change_url(job), data).status_code == 302
    assert_ping_kept(clock.now())


def test_a_ping_while_the_admin_saves_is_kept(editor, clock):
    client, job = editor
    data = as_shown(client, job, grace="00:20:00")
    now = clock.advance(minutes=5)
    with after_first_read_of("job_heartbeats", lambda: failing_ping(now)):
        assert client.post(change_url(job), data).status_code == 302
    assert_ping_kept(now)


def test_pausing_in_the_form_pauses_and_writes_nothing_else(editor, clock):
    client, job = editor
    data = as_shown(client, job, paused="on")
    failing_ping(clock.advance(minutes=5))
    assert client.post(change_url(job), data).status_code == 302
    job = JobHeartbeat.objects.get(pk="backup")
    assert (job.paused, job.status, job.n_runs, job.grace) == (True, "disk-full", 2, None)


def test_a_period_edited_over_a_cron_saved_meanwhile_replaces_it(editor, clock):
    client, job = editor
    data = as_shown(client, job, period="2h")
    JobHeartbeat.objects.filter(pk="backup").update(period=None, cron="0 2 * * *")
    assert client.post(change_url(job), data).status_code == 302
    job = JobHeartbeat.objects.get(pk="backup")
    assert (job.period, job.cron) == (2 * HOUR, "")


def test_a_job_a_first_ping_creates_while_the_admin_adds_it_is_kept(db, clock):
    client = staff_client("view_jobheartbeat", "add_jobheartbeat", "change_jobheartbeat")
    form = {"job_name": "backup", "status": "healthy", "tz": "UTC", "grace": "00:20:00"}
    pinged = []
    # After the form's last check (the name as the primary key), before its insert.
    first_ping = lambda: pinged.append(failing_ping(clock.now()))  # noqa: E731
    with after_first_read_of("job_heartbeats", first_ping, containing='"job_name" = %s'):
        response = client.post(reverse("admin:heartbeats_jobheartbeat_add"), form)
    assert response.status_code == 302
    job = JobHeartbeat.objects.get(pk="backup")
    assert (job.uuid, job.n_runs, job.last_outcome) == (pinged[0].job.uuid, 1, "fail")
    assert (job.metadata, job.grace) == ({"rows": 2}, GRACE)


@pytest.mark.django_db(transaction=True)
def test_a_ping_committing_while_the_admin_waits_for_the_row_is_kept(clock, make_job, is_postgres):
    """Real concurrency: the admin reads the row, a ping holds it, the admin's write waits."""
    if not is_postgres:
        pytest.skip("SQLite has one writer: no row lock to wait on")
    job = make_job("backup", age=3 * HOUR, period=HOUR, metadata={"rows": 1})
    client = staff_client("view_jobheartbeat", "change_jobheartbeat")
    data = as_shown(client, job, grace="00:20:00")
    now = clock.advance(minutes=5)
    pinged, release, answers = threading.Event(), threading.Event(), []

    def ping() -> None:
        with transaction.atomic():
            failing_ping(now)
            pinged.set()
            release.wait(60)

    def save() -> None:
        answers.append(client.post(change_url(job), data).status_code)

    threads = [threading.Thread(target=in_own_connection(work)) for work in (ping, save)]
    threads[0].start()
    assert pinged.wait(60)
    threads[1].start()
    wait_for_a_lock_waiter()
    release.set()
    for thread in threads:
        thread.join(60)
    assert answers == [302]
    assert_ping_kept(now)


def in_own_connection(work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    return run


def wait_for_a_lock_waiter() -> None:
    with connection.cursor() as cursor:
        for _ in range(1200):
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            threading.Event().wait(0.05)
    raise AssertionError("the admin never waited for the row")
