"""Ping URLs with a trailing slash, which some Healthchecks.io clients send, answer like the
ones without it (no redirect: a POST's body must arrive). Also the shortest period a job's
schedule accepts (both found by the same outside test round)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats import schedules
from heartbeats.admin_forms import JobHeartbeatForm
from heartbeats.models import JobHeartbeat, PingEvent
from tests.test_pings import KEY, SUFFIXES, assert_ping_headers, ping


@pytest.fixture
def keyed_job(settings, make_job, clock):
    settings.PING_KEYS = [KEY]
    return make_job("backup", age=timedelta(hours=1))


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("suffix", "kind", "exit_status"), SUFFIXES)
@pytest.mark.parametrize("form", ["uuid", "key"])
def test_a_trailing_slash_records_the_signal(
    client, keyed_job, clock, method, suffix, kind, exit_status, form
):
    base = f"/ping/{keyed_job.uuid}" if form == "uuid" else f"/ping/{KEY}/{keyed_job.job_name}"
    body = "rotated 3 files" if method == "post" else ""
    response = ping(client, f"{base}{suffix}/", method, body)
    assert (response.status_code, response.content) == (200, b"OK")
    assert_ping_headers(response)
    event = PingEvent.objects.get(job=keyed_job)
    assert (event.kind, event.exit_status, event.body) == (kind, exit_status, body)
    assert event.created_at == clock.now()


def test_a_trailing_slash_keeps_the_query_string(client, keyed_job):
    response = client.post(f"/ping/{KEY}/new-job/?create=1", "first", "text/plain")
    assert (response.status_code, response.content) == (201, b"Created")
    assert PingEvent.objects.get(job__job_name="new-job").body == "first"


@pytest.mark.parametrize("suffix", ["//", "/start//", "/0//"])
def test_an_empty_part_is_still_not_found(client, keyed_job, suffix):
    for base in (f"/ping/{keyed_job.uuid}", f"/ping/{KEY}/{keyed_job.job_name}"):
        response = client.get(f"{base}{suffix}")
        assert (response.status_code, response.content) == (404, b"not found")
    assert not PingEvent.objects.exists()


# --- the shortest period ----------------------------------------------------------------------


@pytest.mark.parametrize("period", [timedelta(microseconds=1), timedelta(seconds=30)])
def test_a_period_under_a_minute_is_refused(period):
    with pytest.raises(schedules.ScheduleError, match="the period must be at least 1 minute"):
        schedules.validate(period=period, cron="", tz="UTC")


@pytest.mark.parametrize("period", [timedelta(minutes=1), timedelta(days=366)])
def test_a_period_from_a_minute_to_366_days_is_accepted(period):
    schedules.validate(period=period, cron="", tz="UTC", grace=timedelta(0))


def job_form(job: JobHeartbeat, **changes: str) -> JobHeartbeatForm:
    data = {"job_name": job.job_name, "status": "healthy", "tz": "UTC", "grace": "0", **changes}
    return JobHeartbeatForm(data=data, instance=job)


def test_the_job_form_refuses_a_30_second_period(keyed_job):
    form = job_form(keyed_job, period="30")
    assert not form.is_valid()
    assert form.errors["period"] == ["The period must be at least 1 minute."]


@pytest.mark.parametrize(("period", "expected"), [("60", 60), ("00:01:00", 60), ("01:00:00", 3600)])
def test_the_job_form_accepts_a_period_of_a_minute_or_more(keyed_job, period, expected):
    form = job_form(keyed_job, period=period)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["period"] == timedelta(seconds=expected)
    assert form.cleaned_data["grace"] == timedelta(0)
