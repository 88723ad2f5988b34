"""The trigger-kept job total (migration 0004) always equals count(*), whatever writes the jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from heartbeats import job_count
from heartbeats.alerts import check_run
from heartbeats.models import JobHeartbeat
from heartbeats.signals import recording
from tests.conftest import T0, at_once


def assert_exact() -> int:
    total = job_count.total(connection)
    assert total == JobHeartbeat.objects.count()
    return total


@pytest.mark.django_db
def test_creations_count_and_beats_of_existing_jobs_do_not():
    assert assert_exact() == 0
    recording.record_signal(job_name="backup", now=T0)
    recording.record_signal(job_name="backup", now=T0 + timedelta(minutes=1))
    recording.record_signal(job_name="sync", now=T0)
    JobHeartbeat.objects.create(job_name="report")
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"bulk-{i}") for i in range(50))
    JobHeartbeat.objects.bulk_create([JobHeartbeat(job_name="backup")], ignore_conflicts=True)
    assert assert_exact() == 53


@pytest.mark.django_db
def test_deletions_one_by_one_and_in_bulk():
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"job-{i}") for i in range(30))
    JobHeartbeat.objects.get(pk="job-0").delete()
    JobHeartbeat.objects.filter(job_name__in=[f"job-{i}" for i in range(1, 11)]).delete()
    assert assert_exact() == 19
    JobHeartbeat.objects.all().delete()
    assert assert_exact() == 0


@pytest.mark.django_db
def test_a_renamed_job_is_still_one_job():
    JobHeartbeat.objects.create(job_name="old")
    JobHeartbeat.objects.filter(pk="old").update(job_name="new")
    assert assert_exact() == 1


@pytest.mark.django_db
def test_a_rolled_back_creation_is_not_counted():
    with pytest.raises(RuntimeError), transaction.atomic():
        recording.record_signal(job_name="backup", now=T0)
        raise RuntimeError("the request failed after the beat")
    assert assert_exact() == 0


@pytest.mark.django_db
def test_truncate_empties_the_counter():
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"job-{i}") for i in range(5))
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite empties tables with DELETE (tested above)")
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {JobHeartbeat._meta.db_table} CASCADE")
    assert assert_exact() == 0
    recording.record_signal(job_name="after", now=T0)
    assert assert_exact() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_and_deletions_keep_the_total_exact():
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"doomed-{i}") for i in range(40))

    def work(worker: int) -> None:
        for i in range(20):
            recording.record_signal(job_name=f"w{worker}-{i}", now=T0)
            recording.record_signal(job_name="shared", now=T0)  # one job, many writers
            if worker % 2 == 0 and i % 4 == 0:
                JobHeartbeat.objects.filter(pk=f"doomed-{worker * 5 + i // 4}").delete()

    errors = at_once(work, 8)
    assert errors == []
    assert assert_exact() == 40 - 4 * 5 + 8 * 20 + 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_jobs_already_there():
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"old-{i}") for i in range(12))
    executor = MigrationExecutor(connection)
    executor.migrate([("heartbeats", "0003_delivery_idempotency_key")])
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert "job_heartbeats_count" not in tables
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert assert_exact() == 12
    recording.record_signal(job_name="new", now=T0)
    assert assert_exact() == 13


def counter_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {job_count.TABLE}")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_one_transaction_touches_one_counter_row(is_postgres):
    """Two counter rows locked in random order by two transactions could deadlock."""
    if not is_postgres:
        pytest.skip("SQLite has one writer and one counter row")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {job_count.TABLE}")
    with transaction.atomic():
        for i in range(6):
            recording.record_signal(job_name=f"new-{i}", now=T0)
        JobHeartbeat.objects.filter(pk="new-0").delete()
    assert counter_rows() == 1
    assert job_count.total(connection) == 5


@pytest.mark.django_db(transaction=True)
def test_migrate_puts_back_triggers_that_went_missing():
    JobHeartbeat.objects.create(job_name="before")
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER job_heartbeats_count_insert"
            + (" ON job_heartbeats" if connection.vendor == "postgresql" else "")
        )
    JobHeartbeat.objects.create(job_name="uncounted")
    assert job_count.total(connection) == 1
    call_command("migrate", verbosity=0)
    assert assert_exact() == 2
    JobHeartbeat.objects.create(job_name="after")
    assert assert_exact() == 3


@pytest.mark.django_db(transaction=True)
def test_sqlite_table_rebuilds_keep_the_counter(is_postgres):
    """Django remakes a SQLite table for most field changes, dropping its triggers."""
    if is_postgres:
        pytest.skip("PostgreSQL alters tables in place")
    JobHeartbeat.objects.create(job_name="before")
    with connection.schema_editor() as editor:
        editor._remake_table(JobHeartbeat)
    assert job_count.installed_triggers(connection) == set()
    call_command("migrate", verbosity=0)
    JobHeartbeat.objects.create(job_name="after")
    assert assert_exact() == 2


@pytest.mark.django_db
def test_forcing_an_alert_for_no_jobs_is_a_quiet_pass():
    JobHeartbeat.objects.create(job_name="fresh")
    result = check_run.run_check(now=T0, trigger="manual", job_names=[])
    assert (result.total_jobs, result.alerts_sent) == (1, 0)
