"""The runbook's procedures as services: what the admin actions and buttons call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heartbeats import services
from heartbeats.models import JobHeartbeat
from tests.conftest import T0

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def test_bulk_recover_moves_a_scheduled_jobs_due_time(make_job):
    make_job("hourly", age=3 * H, period=H, grace=H / 2, due_at=T0 - 90 * timedelta(minutes=1))
    make_job("daily", age=30 * H)
    make_job("fresh", age=H)
    assert services.bulk_recover(now=T0) == 2
    hourly = JobHeartbeat.objects.get(pk="hourly")
    assert (hourly.last_run_at, hourly.due_at, hourly.status) == (T0, T0 + H + H / 2, "recovered")
    assert JobHeartbeat.objects.get(pk="daily").due_at is None
    assert JobHeartbeat.objects.get(pk="fresh").status == "healthy"


def test_bulk_recover_queries_do_not_grow_with_scheduled_jobs(make_job):
    def recover(count: int, now) -> int:
        JobHeartbeat.objects.all().delete()
        for i in range(count):
            make_job(f"job-{i}", age=3 * H, now=now, period=H, due_at=now - H)
        with CaptureQueriesContext(connection) as queries:
            assert services.bulk_recover(now=now) == count
        return len(queries)

    assert recover(2, T0) == recover(20, T0 + H)
