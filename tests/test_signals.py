from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from heartbeats import services
from heartbeats.models import JobHeartbeat, PingEvent
from tests.conftest import T0


def test_first_beat_creates_job_with_defaults(db):
    result = services.record_signal(job_name="backup", now=T0)
    job = JobHeartbeat.objects.get(pk="backup")
    assert result.created
    assert (job.last_run_at, job.status, job.metadata, job.n_runs) == (T0, "healthy", {}, 1)
    assert PingEvent.objects.filter(job=job, kind="success").count() == 1


def test_beat_replaces_status_and_metadata_and_counts_runs(db):
    services.record_signal(job_name="backup", now=T0, status="slow", metadata={"rows": 1})
    later = T0 + timedelta(hours=1)
    result = services.record_signal(job_name="backup", now=later, status="ok", metadata={"a": [1]})
    job = JobHeartbeat.objects.get(pk="backup")
    assert not result.created
    assert (job.last_run_at, job.updated_at, job.status, job.metadata) == (
        later,
        later,
        "ok",
        {"a": [1]},
    )
    assert job.n_runs == 2
    assert job.created_at == T0


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_beats_of_one_name_all_succeed():
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def beat(i: int) -> None:
        try:
            barrier.wait()
            services.record_signal(job_name="fresh", now=T0 + timedelta(microseconds=i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert JobHeartbeat.objects.get(pk="fresh").n_runs == 8
    assert PingEvent.objects.filter(job_id="fresh").count() == 8
    assert connection.vendor in {"sqlite", "postgresql"}
