"""Ping URLs with a trailing slash, which some Healthchecks.io clients send, answer like the
ones without it (no redirect: a POST's body must arrive)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats.models import PingEvent
from tests.test_pings import KEY, assert_ping_headers, ping


@pytest.fixture
def keyed_job(settings, make_job, clock):
    settings.PING_KEYS = [KEY]
    return make_job("backup", age=timedelta(hours=1))


@pytest.mark.parametrize(
    ("form", "suffix", "kind", "exit_status"),
    # One case per ping route (tests/test_pings.py has every signal on every route).
    [("uuid", "", "success", None), ("uuid", "/fail", "fail", None),
     ("key", "", "success", None), ("key", "/255", "fail", 255)],
)  # fmt: skip
def test_a_trailing_slash_records_the_signal_and_body(
    client, keyed_job, clock, form, suffix, kind, exit_status
):
    base = f"/ping/{keyed_job.uuid}" if form == "uuid" else f"/ping/{KEY}/{keyed_job.job_name}"
    response = ping(client, f"{base}{suffix}/", "post", "rotated 3 files")
    assert (response.status_code, response.content) == (200, b"OK")
    assert_ping_headers(response)
    event = PingEvent.objects.get(job=keyed_job)
    assert (event.kind, event.exit_status, event.body) == (kind, exit_status, "rotated 3 files")
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
