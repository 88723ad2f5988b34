"""The trigger-kept job total (migration 0004) always equals count(*), whatever writes the jobs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from heartbeats import queries, services
from heartbeats.models import JobHeartbeat
from tests.conftest import T0


def assert_exact() -> int:
    total = queries.total_jobs()
    assert total == JobHeartbeat.objects.count()
    return total


@pytest.mark.django_db
def test_creations_count_and_beats_of_existing_jobs_do_not():
    assert assert_exact() == 0
    services.record_signal(job_name="backup", now=T0)
    services.record_signal(job_name="backup", now=T0 + timedelta(minutes=1))
    services.record_signal(job_name="sync", now=T0)
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
        services.record_signal(job_name="backup", now=T0)
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
    services.record_signal(job_name="after", now=T0)
    assert assert_exact() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_and_deletions_keep_the_total_exact():
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"doomed-{i}") for i in range(40))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(20):
                services.record_signal(job_name=f"w{worker}-{i}", now=T0)
                services.record_signal(job_name="shared", now=T0)  # one job, many writers
                if worker % 2 == 0 and i % 4 == 0:
                    JobHeartbeat.objects.filter(pk=f"doomed-{worker * 5 + i // 4}").delete()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
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
    services.record_signal(job_name="new", now=T0)
    assert assert_exact() == 13
