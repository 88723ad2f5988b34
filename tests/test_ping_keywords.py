"""A job's keyword filter (`filter_body` with start/success/failure keywords) and POST-only
setting classify its pings, as Healthchecks does; jobs without them cost no extra statement."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from heartbeats.models import JobHeartbeat, PingEvent


@pytest.fixture
def filtered(make_job):
    return make_job(
        "report", filter_body=True, start_kw="BEGIN", success_kw="DONE, COMPLETE",
        failure_kw="ERROR,FATAL", n_runs=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("BEGIN nightly", "start"),
        ("all COMPLETE", "success"),
        ("DONE but ERROR in step 3", "fail"),  # failure keywords win
        ("FATAL", "fail"),
        ("nothing to see", "ign"),
        ("", "ign"),
    ],
)
def test_the_body_decides_the_signal(client, filtered, body, kind):
    response = client.post(f"/ping/{filtered.uuid}", body, content_type="text/plain")
    assert response.status_code == 200
    event = PingEvent.objects.get()
    assert (event.kind, event.n) == (kind, 1)
    job = JobHeartbeat.objects.get()
    assert job.n_pings == 1
    assert job.n_runs == (1 if kind in ("success", "fail") else 0)
    assert job.last_outcome == ("fail" if kind == "fail" else "success")
    assert (job.run_deadline is not None) == (kind == "start")


def test_a_fail_url_with_a_success_keyword_is_a_success(client, filtered):
    client.post(f"/ping/{filtered.uuid}/fail", "DONE", content_type="text/plain")
    assert PingEvent.objects.get().kind == "success"


def test_a_log_stays_a_log(client, filtered):
    client.post(f"/ping/{filtered.uuid}/log", "ERROR", content_type="text/plain")
    assert PingEvent.objects.get().kind == "log"
    assert JobHeartbeat.objects.get().last_outcome == "success"


def test_post_only_jobs_ignore_other_methods(client, make_job):
    job = make_job("hook", methods="POST")
    client.get(f"/ping/{job.uuid}/fail")
    assert JobHeartbeat.objects.values_list("last_outcome", "n_runs").get() == ("success", 1)
    client.post(f"/ping/{job.uuid}/fail", "", content_type="text/plain")
    assert JobHeartbeat.objects.values_list("last_outcome", "n_runs").get() == ("fail", 2)
    kinds = list(PingEvent.objects.order_by("n").values_list("method", "kind"))
    assert kinds == [("GET", "ign"), ("POST", "fail")]


def test_an_ignored_ping_costs_the_usual_statements(client, filtered, django_assert_num_queries):
    with django_assert_num_queries(4):
        client.post(f"/ping/{filtered.uuid}", "no keyword", content_type="text/plain")


def test_a_classified_ping_adds_one_statement(client, filtered, django_assert_num_queries):
    with django_assert_num_queries(5) as queries:
        client.post(f"/ping/{filtered.uuid}", "DONE", content_type="text/plain")
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SAVEPOINT", "UPDATE", "UPDATE", "INSERT", "RELEASE"]


def test_beat_is_not_filtered(filtered):
    call_command("beat", "report")
    assert PingEvent.objects.get().kind == "success"
