from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heartbeats.models import Alert, AlertDelivery, CheckRun, JobHeartbeat, PingEvent
from tests.conftest import T0

pytestmark = pytest.mark.django_db

D = timedelta(days=1)


@pytest.fixture
def history(make_job, clock):
    old = make_job("retired", age=40 * D)
    old.created_at = T0 - 100 * D
    old.save()
    young_but_silent = make_job("new-silent", age=40 * D)
    young_but_silent.created_at = T0 - 50 * D
    young_but_silent.save()
    kept = make_job("daily", age=D)
    PingEvent.objects.bulk_create(
        [PingEvent(job=kept, kind="success", created_at=T0 - 100 * D) for _ in range(2500)]
        + [PingEvent(job=kept, kind="success", created_at=T0 - D) for _ in range(10)]
        + [PingEvent(job=old, kind="success", created_at=T0 - 40 * D) for _ in range(5)]
    )
    finished = Alert.objects.create(job=kept, kind="down", created_at=T0 - 100 * D, done=True)
    AlertDelivery.objects.create(alert=finished, channel="slack", state="sent")
    open_alert = Alert.objects.create(job=kept, kind="failed", created_at=T0 - 100 * D)
    AlertDelivery.objects.create(alert=open_alert, channel="slack")
    Alert.objects.create(job=old, kind="down", created_at=T0 - 40 * D, done=True)
    CheckRun.objects.create(started_at=T0 - 100 * D)
    CheckRun.objects.create(started_at=T0 - D)


def test_prune_applies_the_policy_in_batches(history):
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("prune_heartbeats", "--batch-size", "1000", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "  ping events: 1000 deleted so far",
        "  ping events: 2000 deleted so far",
        "  ping events: 2505 deleted so far",
    ]
    assert lines[-1] == (
        "Deleted 2505 ping events, 1 alert deliveries, 2 alerts, 1 check runs, 1 jobs"
    )
    assert sorted(JobHeartbeat.objects.values_list("job_name", flat=True)) == [
        "daily", "new-silent",
    ]  # fmt: skip
    assert PingEvent.objects.count() == 10
    assert Alert.objects.get().kind == "failed"  # an unfinished alert is never pruned
    assert CheckRun.objects.count() == 1
    assert len(queries) < 40  # batches, not a statement per row


def test_dry_run_counts_and_deletes_nothing(history):
    out = StringIO()
    call_command("prune_heartbeats", "--dry-run", stdout=out)
    assert out.getvalue() == (
        "Would delete 2505 ping events, 1 alert deliveries, 2 alerts, 1 check runs, 1 jobs\n"
    )
    assert PingEvent.objects.count() == 2515


def test_bad_batch_size():
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("prune_heartbeats", "--batch-size", "0")
