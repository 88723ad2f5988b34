"""Property-based: whatever the job form is given, the admin answers with the form or saves a
valid job; never a 500, never a half-written row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from heartbeats.models import JobHeartbeat
from tests.admin_support import staff_client

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
durations = st.text(max_size=30) | st.sampled_from(
    ["", "0", "-1 00:00:00", "00:05:00", "999999999 00:00:00", "1 02:03:04", "P1D", "nan"]
)
crons = st.text(max_size=40) | st.sampled_from(
    ["", "0 2 * * *", "*/5 * * * *", "0 0 30 2 *", "61 * * * *", "@daily", "0 2 * * 1-5", "* * *"]
)
zones = st.text(max_size=40) | st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Mars/Olympus", "../../etc/passwd", ""]
)


@pytest.fixture
def editor(make_job):
    make_job("edited", status="before", period=None)
    return staff_client("view_jobheartbeat", "change_jobheartbeat", "add_jobheartbeat")


@contextmanager
def own_example() -> Iterator[None]:
    """Hypothesis runs every example in one test's transaction: undo each example's writes so
    the next one starts from the fixture's row, not from what the last one saved."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def row() -> tuple:
    return tuple(
        JobHeartbeat.objects.filter(pk="edited").values_list(
            "status", "period", "cron", "tz", "grace", "due_at"
        )[0]
    )


@PROPERTY
@given(
    status=st.sampled_from(["ok", "healthy"]) | st.text(max_size=40),
    period=durations,
    cron=crons,
    tz=zones,
    grace=durations,
)
@example(status="ok", period="", cron="", tz="UTC", grace="-1 00:00:00")
@example(status="ok", period="00:05:00", cron="0 2 * * *", tz="UTC", grace="")
@example(status="ok", period="", cron="0 0 30 2 *", tz="Europe/Berlin", grace="00:10:00")
@example(status="ok", period="999999999 00:00:00", cron="", tz="UTC", grace="")
def test_any_schedule_edit_is_saved_whole_or_refused(editor, status, period, cron, tz, grace):
    with own_example():
        before = row()
        url = reverse("admin:heartbeats_jobheartbeat_change", args=["edited"])
        data = {"status": status, "period": period, "cron": cron, "tz": tz, "grace": grace}
        response = editor.post(url, data)
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            assert response.context["adminform"].form.errors
            assert row() == before
        else:
            job = JobHeartbeat.objects.get(pk="edited")
            assert not (job.period and job.cron)
            assert job.grace is None or job.grace.total_seconds() >= 0
            assert job.period is None or job.period.total_seconds() > 0


@PROPERTY
@given(
    name=st.sampled_from(["new-job", "db:backup.1"]) | st.text(max_size=140),
    status=st.sampled_from(["ok", "healthy"]) | st.text(max_size=40),
)
@example(name="edited", status="ok")  # the name is taken
def test_any_new_job_is_created_whole_or_refused(editor, name, status):
    with own_example():
        count = JobHeartbeat.objects.count()
        response = editor.post(
            reverse("admin:heartbeats_jobheartbeat_add"),
            {"job_name": name, "status": status, "tz": "UTC"},
        )
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            assert JobHeartbeat.objects.count() == count
