"""Job names are case-insensitive everywhere a job is found or made, and every ping records
who sent it: the host name `beat` runs on, an HTTP ping's method."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from heartbeats.admin.forms import JobHeartbeatForm
from heartbeats.models import JobHeartbeat, PingEvent
from heartbeats.signals import recording
from tests.conftest import T0, at_once

KEY = "current-ping-key-0123456789"
HOUR = timedelta(hours=1)


@pytest.fixture
def ping_keys(settings):
    settings.PING_KEYS = [KEY]


@pytest.mark.django_db
def test_a_second_job_differing_only_in_case_is_refused_by_the_database(make_job):
    make_job("nightly-backup")
    with pytest.raises(IntegrityError), transaction.atomic():
        JobHeartbeat.objects.create(job_name="Nightly-Backup")


@pytest.mark.django_db
def test_the_admin_form_refuses_a_name_differing_only_in_case(make_job):
    make_job("nightly-backup")
    form = JobHeartbeatForm(data={"job_name": "NIGHTLY-backup", "status": "healthy", "tz": "UTC"})
    assert not form.is_valid()
    assert "A job with this name (in any case) already exists." in str(form.errors)


@pytest.mark.django_db
def test_create_ping_in_another_case_finds_the_job(client, ping_keys, clock, make_job):
    make_job("nightly-backup", age=HOUR, n_runs=3)
    response = client.get(f"/ping/{KEY}/Nightly-Backup?create=1")
    assert (response.status_code, response.content) == (200, b"OK")
    assert list(JobHeartbeat.objects.values_list("job_name", "n_runs")) == [("nightly-backup", 4)]


@pytest.mark.django_db
def test_ping_without_create_in_another_case_finds_the_job(client, ping_keys, clock, make_job):
    make_job("nightly-backup")
    assert client.post(f"/ping/{KEY}/NIGHTLY-BACKUP/fail", "boom", "text/plain").status_code == 200
    assert JobHeartbeat.objects.get().last_outcome == "fail"


@pytest.mark.django_db
def test_beat_in_another_case_finds_the_job(clock, make_job):
    make_job("nightly-backup", age=HOUR, n_runs=1)
    call_command("beat", "Nightly-Backup", stdout=StringIO())
    assert list(JobHeartbeat.objects.values_list("job_name", "n_runs")) == [("nightly-backup", 2)]


@pytest.mark.django_db(transaction=True)
def test_a_create_refused_by_the_case_index_finds_the_job_the_race_made(is_postgres):
    """Two first pings racing in different cases: another process commits `ETL` after this
    statement looked for the name (played by hiding it from the look-up), the lower-case index
    refuses the insert of `etl`, and the retry updates the job the other made."""
    if not is_postgres:
        pytest.skip("SQLite writers take turns (BEGIN IMMEDIATE): this race cannot happen there")
    raced: list[BaseException] = []

    def create_concurrently(execute, sql, params, many, context):
        if sql.startswith("INSERT INTO job_heartbeats") and not raced:
            other = JobHeartbeat(job_name="ETL", last_run_at=T0, created_at=T0 - HOUR, n_runs=1)
            raced.append(*at_once(lambda _: other.save(force_insert=True), 1) or [None])
            params = ["no-such-job", *params[1:]]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(create_concurrently):
        result = recording.record_signal(job_name="etl", now=T0)
    assert raced == [None]
    assert (result.job.job_name, result.created) == ("ETL", False)
    assert list(JobHeartbeat.objects.values_list("job_name", "n_runs")) == [("ETL", 2)]


def test_the_name_lookup_uses_the_lower_case_index_on_postgresql(db, make_job, is_postgres):
    if not is_postgres:
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"job-{i}") for i in range(2000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE job_heartbeats")
        cursor.execute(
            "EXPLAIN SELECT job_name FROM job_heartbeats WHERE lower(job_name) = lower(%s)",
            ["Job-7"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "job_name_lower_unique" in plan, plan


@pytest.mark.django_db
def test_http_pings_record_their_method(client, ping_keys, clock, make_job):
    make_job("backup")
    client.post(f"/ping/{KEY}/backup", "done", "text/plain", headers={"User-Agent": "curl/8"})
    client.head(f"/ping/{KEY}/backup/start")
    rows = PingEvent.objects.order_by("id").values_list("method", "user_agent", "host")
    assert list(rows) == [("POST", "curl/8", ""), ("HEAD", "", "")]


@pytest.mark.django_db
def test_beat_records_the_machines_host_name(clock):
    call_command("beat", "backup", "--", "true", stdout=StringIO(), stderr=StringIO())
    hosts = set(PingEvent.objects.values_list("host", flat=True))
    assert hosts == {socket.gethostname()}
    assert socket.gethostname()


@pytest.mark.django_db(transaction=True)
def test_the_migration_lists_jobs_differing_only_in_case_and_stops():
    executor = MigrationExecutor(connection)
    executor.migrate([("heartbeats", "0004_job_count")])
    try:
        with connection.cursor() as cursor:
            for name in ("Backup", "backup", "sync", "SYNC", "unique-one"):
                cursor.execute(
                    "INSERT INTO job_heartbeats (job_name, uuid, last_run_at, status, metadata, "
                    "created_at, updated_at, last_outcome, n_runs, paused, alerted, cron, tz) "
                    "VALUES (%s, %s, %s, 'healthy', '{}', %s, %s, 'success', 0, %s, %s, '', 'UTC')",
                    [name, uuid.uuid4().hex, T0, T0, T0, False, False],
                )
        executor = MigrationExecutor(connection)
        with pytest.raises(RuntimeError) as caught:
            executor.migrate(executor.loader.graph.leaf_nodes())
        assert str(caught.value) == (
            "Job names are now case-insensitive, and these jobs differ only in case: "
            "Backup, backup; SYNC, sync. Rename or delete all but one of each group, then run "
            "migrate again."
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM job_heartbeats")
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
