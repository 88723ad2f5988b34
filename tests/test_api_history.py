"""A check's pings, ping bodies, flips and badges through the API, as Healthchecks documents
them; and the flips the checker and the pings write."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from heartbeats.alerts import check_run
from heartbeats.models import Flip, JobHeartbeat, PingEvent
from tests.conftest import T0

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def code(api, clock) -> str:
    return api.post("checks/", {"name": "Backups", "tags": "prod db", "timeout": 3600}).json()[
        "uuid"
    ]


def test_pings_newest_first_with_their_bodies(api, client, code, clock):
    client.post(f"/ping/{code}/start", "", content_type="text/plain")
    clock.advance(seconds=90)
    client.post(
        f"/ping/{code}", "copied 3 files", content_type="text/plain", HTTP_USER_AGENT="curl"
    )
    pings = api.get(f"checks/{code}/pings/").json()["pings"]
    assert [(p["type"], p["n"], p["method"], p["ua"]) for p in pings] == [
        ("success", 2, "POST", "curl"),
        ("start", 1, "POST", ""),
    ]
    assert pings[0]["duration"] == 90.0
    assert pings[0]["date"] == (T0 + timedelta(seconds=90)).isoformat()
    assert pings[0]["body_url"].endswith(f"/api/v3/checks/{code}/pings/2/body")
    assert pings[1]["body_url"] is None
    body = api.get(f"checks/{code}/pings/2/body")
    assert (body.status_code, body["Content-Type"], body.content) == (
        200, "text/plain; charset=utf-8", b"copied 3 files",
    )  # fmt: skip
    assert api.get(f"checks/{code}/pings/1/body").status_code == 404
    assert api.get(f"checks/{code}/pings/9/body").status_code == 404
    check = api.get(f"checks/{code}").json()
    assert (check["n_pings"], check["last_duration"], check["status"]) == (2, 90, "up")


def test_a_running_check_is_started_in_v1_and_a_flag_in_v2_and_v3(api, client, code):
    client.get(f"/ping/{code}")
    client.get(f"/ping/{code}/start")
    for v, status in [(1, "started"), (2, "up"), (3, "up")]:
        api.v = v
        body = api.get(f"checks/{code}").json()
        assert (body["status"], body["started"]) == (status, True)
        assert body["update_url"].endswith(f"/api/v{v}/checks/{code}")


def run_checker(now):
    return check_run.run_check(now=now, sleep=lambda seconds: None)


def test_flips_down_by_the_checker_and_up_by_a_ping(api, client, code, clock, no_channels):
    client.get(f"/ping/{code}")
    clock.advance(hours=3)
    run_checker(clock.now())
    run_checker(clock.now() + timedelta(minutes=1))  # still down: no second flip
    assert api.get(f"checks/{code}").json()["status"] == "down"
    clock.advance(minutes=5)
    client.get(f"/ping/{code}")
    flips = api.get(f"checks/{code}/flips/").json()["flips"]
    assert flips == [
        {"timestamp": (T0 + timedelta(hours=3, minutes=5)).isoformat(), "up": 1},
        {"timestamp": (T0 + timedelta(hours=3)).isoformat(), "up": 0},
    ]
    reasons = list(Flip.objects.order_by("created_at").values_list("reason", flat=True))
    assert reasons == ["the checker found it down", "a successful ping"]
    start = int((T0 + timedelta(hours=3, minutes=1)).timestamp())
    assert len(api.get(f"checks/{code}/flips/", start=start).json()["flips"]) == 1
    assert len(api.get(f"checks/{code}/flips/", end=start).json()["flips"]) == 1
    assert len(api.get(f"checks/{code}/flips/", seconds=60).json()["flips"]) == 1
    assert not JobHeartbeat.objects.get(uuid=code).flipped_down


def test_a_ping_that_is_no_flip_adds_no_statement(client, code, clock, django_assert_num_queries):
    client.get(f"/ping/{code}")
    with django_assert_num_queries(4):  # savepoint, upsert, event, release: as before the API
        client.post(f"/ping/{code}/log", "x", content_type="text/plain")


def test_flips_by_unique_key_with_a_read_only_key(readonly_api, code):
    unique_key = readonly_api.get("checks/").json()["checks"][0]["unique_key"]
    assert readonly_api.get(f"checks/{unique_key}/flips/").json() == {"flips": []}


def test_badges_are_listed_per_tag_and_overall_and_served(api, client, code, clock):
    badges = api.get("badges/").json()["badges"]
    assert set(badges) == {"*", "prod", "db"}
    assert set(badges["prod"]) == {"svg", "svg3", "json", "json3", "shields", "shields3"}
    client.get(f"/ping/{code}")
    up = client.get(badges["prod"]["json"].removeprefix("http://127.0.0.1:8000"))
    assert up.json() == {"status": "up", "total": 1, "grace": 0, "down": 0}
    clock.advance(minutes=61)  # past the timeout, within the grace time
    assert client.get(_path(badges["*"]["json3"])).json()["status"] == "late"
    assert client.get(_path(badges["*"]["json"])).json()["status"] == "up"
    shields = client.get(_path(badges["db"]["shields3"])).json()
    assert shields == {"schemaVersion": 1, "label": "db", "message": "late", "color": "important"}
    svg = client.get(_path(badges["db"]["svg"]))
    assert svg["Content-Type"] == "image/svg+xml" and b"db: up" in svg.content
    forged = _path(badges["db"]["json"]).replace("/db.json", "/prod.json")
    assert client.get(forged).status_code == 404


def test_a_badge_counts_in_sql_whatever_the_number_of_jobs(api, client, make_job, clock):
    """Public and fetched often: a badge counts the states in SQL and loads only running jobs,
    which count by the state under their run, as their check status does."""
    overall = _path(api.get("badges/").json()["badges"]["*"]["json3"])
    make_job("running-late", age=timedelta(days=2), last_start_at=T0, run_deadline=T0 + H)
    make_job("running-now", age=timedelta(hours=1), last_start_at=T0, run_deadline=T0 + H)
    loaded: list[str] = []

    def count_loaded(sender, instance, **kwargs) -> None:
        loaded.append(instance.pk)

    def statements(jobs: int) -> tuple[int, dict]:
        JobHeartbeat.objects.filter(job_name__startswith="fleet-").delete()
        for i in range(jobs):
            make_job(f"fleet-{i}", age=timedelta(minutes=5), now=T0)
        loaded.clear()
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(overall).json()
        return len(captured), answer

    post_init.connect(count_loaded, sender=JobHeartbeat)
    try:
        few, many = statements(3), statements(30)
    finally:
        post_init.disconnect(count_loaded, sender=JobHeartbeat)
    assert few[0] == many[0]
    assert loaded == ["running-now"]
    assert many[1] == {"status": "down", "total": 32, "grace": 0, "down": 1}


def _path(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_status_answers_ok_without_a_key(client):
    response = client.get("/api/v3/status/")
    assert (response.status_code, response.content) == (200, b"OK")


def test_the_migration_numbers_kept_events_and_counts_them(make_job):
    migration = importlib.import_module("heartbeats.migrations.0011_api")
    job = make_job("old")
    for minute in (3, 1, 2):
        PingEvent.objects.create(job=job, kind="success", created_at=T0 + timedelta(minutes=minute))
    migration.number_kept_events(apps, None)
    numbered = PingEvent.objects.order_by("created_at").values_list("n", flat=True)
    assert list(numbered) == [1, 2, 3]
    assert JobHeartbeat.objects.get().n_pings == 3
