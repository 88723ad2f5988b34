"""Healthchecks' documented check examples (docs/api: list, get, create, update, pause,
resume, delete) replayed against the API: the same requests, the same response fields."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from heartbeats.models import JobHeartbeat
from tests.api_support import make_key

CHECK_FIELDS = {
    "name", "slug", "tags", "desc", "grace", "n_pings", "status", "started", "last_ping",
    "next_ping", "manual_resume", "methods", "subject", "subject_fail", "start_kw",
    "success_kw", "failure_kw", "filter_subject", "filter_body",
}  # fmt: skip
WRITE_FIELDS = {"uuid", "ping_url", "update_url", "pause_url", "resume_url", "channels"}


def test_create_check_as_documented(api, settings):
    settings.SITE_URL = "https://cron.example.com"
    response = api.post(
        "checks/", {"name": "Backups", "tags": "prod www", "timeout": 3600, "grace": 60}
    )
    assert response.status_code == 201
    body = response.json()
    assert CHECK_FIELDS | WRITE_FIELDS | {"timeout"} == set(body)
    job = JobHeartbeat.objects.get()
    code = str(job.uuid)
    assert body | {"status": body["status"]} == body
    assert (body["name"], body["slug"], body["tags"], body["timeout"], body["grace"]) == (
        "Backups", "backups", "prod www", 3600, 60,
    )  # fmt: skip
    assert (body["status"], body["n_pings"], body["last_ping"], body["next_ping"]) == (
        "new", 0, None, None,
    )  # fmt: skip
    assert body["ping_url"] == f"https://cron.example.com/ping/{code}"
    assert body["update_url"] == f"https://cron.example.com/api/v3/checks/{code}"
    assert body["pause_url"].endswith(f"{code}/pause")
    assert body["resume_url"].endswith(f"{code}/resume")
    assert (job.job_name, job.display_name, job.period, job.grace) == (
        "backups", "Backups", timedelta(hours=1), timedelta(minutes=1),
    )  # fmt: skip


def test_the_api_key_may_come_in_the_body(client, db):
    key = make_key()
    response = client.post(
        "/api/v3/checks/", {"api_key": key, "name": "Backups"}, content_type="application/json"
    )
    assert response.status_code == 201


def test_list_checks_filters_by_every_tag_and_slug(api):
    for name, tags in [("a", "prod www"), ("b", "prod"), ("c", "www")]:
        assert api.post("checks/", {"slug": name, "tags": tags}).status_code == 201
    names = lambda response: [c["slug"] for c in response.json()["checks"]]  # noqa: E731
    assert names(api.get("checks/")) == ["a", "b", "c"]
    assert names(api.client.get("/api/v3/checks/?tag=prod&tag=www", HTTP_X_API_KEY=api.key)) == [
        "a"
    ]
    assert names(api.get("checks/", tag="www")) == ["a", "c"]
    assert names(api.get("checks/", slug="b")) == ["b"]


def test_read_only_key_sees_unique_key_instead_of_urls(api, readonly_api):
    code = api.post("checks/", {"name": "Database Backup", "schedule": "15 5 * * *"}).json()["uuid"]
    listed = readonly_api.get("checks/").json()["checks"][0]
    assert not WRITE_FIELDS & set(listed)
    assert (listed["schedule"], listed["tz"], len(listed["unique_key"])) == (
        "15 5 * * *",
        "UTC",
        40,
    )
    by_key = readonly_api.get(f"checks/{listed['unique_key']}")
    assert by_key.status_code == 200 and by_key.json()["slug"] == "database-backup"
    assert readonly_api.get(f"checks/{code}").json()["unique_key"] == listed["unique_key"]
    # As on Healthchecks, read-write keys may name a check by its unique key too, to read it.
    assert api.get(f"checks/{listed['unique_key']}").json()["uuid"] == code
    assert api.post(f"checks/{listed['unique_key']}/pause").status_code == 404


def test_update_changes_only_the_fields_given(api):
    created = api.post(
        "checks/", {"name": "Backups", "tags": "prod", "desc": "nightly", "timeout": 3600}
    ).json()
    code = created["uuid"]
    updated = api.post(f"checks/{code}", {"schedule": "0 2 * * *", "tz": "Europe/Riga"})
    assert updated.status_code == 200
    body = updated.json()
    assert (body["name"], body["tags"], body["desc"]) == ("Backups", "prod", "nightly")
    assert (body["schedule"], body["tz"]) == ("0 2 * * *", "Europe/Riga")
    assert "timeout" not in body
    job = JobHeartbeat.objects.get()
    assert (job.cron, job.period, job.tz) == ("0 2 * * *", None, "Europe/Riga")


def test_unique_returns_and_updates_the_existing_match(api):
    first = api.post("checks/", {"name": "Backups", "unique": ["name"], "timeout": 3600})
    again = api.post("checks/", {"name": "Backups", "unique": ["name"], "timeout": 7200})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["uuid"] == again.json()["uuid"]
    assert again.json()["timeout"] == 7200
    other = api.post("checks/", {"name": "Other", "unique": ["name"]})
    assert other.status_code == 201
    assert JobHeartbeat.objects.count() == 2


@pytest.mark.parametrize("field", ["slug", "tags", "timeout", "grace"])
def test_unique_on_each_field(api, field):
    spec = {"slug": "a-job", "tags": "prod", "timeout": 3600, "grace": 120}
    first = api.post("checks/", spec | {"unique": [field]})
    second = api.post("checks/", spec | {"slug": "b-job", "unique": [field]})
    if field == "slug":
        assert second.status_code == 201
    else:
        assert (second.status_code, second.json()["uuid"]) == (200, first.json()["uuid"])


def test_pause_and_resume(api):
    code = api.post("checks/", {"name": "Backups"}).json()["uuid"]
    assert api.post(f"checks/{code}/resume").status_code == 409
    paused = api.post(f"checks/{code}/pause")
    assert (paused.status_code, paused.json()["status"]) == (200, "paused")
    resumed = api.post(f"checks/{code}/resume")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "new")
    assert not JobHeartbeat.objects.get().paused


def test_delete_returns_the_deleted_check(api):
    code = api.post("checks/", {"name": "Backups"}).json()["uuid"]
    deleted = api.delete(f"checks/{code}")
    assert (deleted.status_code, deleted.json()["uuid"]) == (200, code)
    assert not JobHeartbeat.objects.exists()
    assert api.delete(f"checks/{code}").status_code == 404


def test_unknown_checks_are_not_found(api):
    paths = [f"checks/{uuid.uuid4()}", "checks/not-a-uuid", f"checks/{uuid.uuid4()}/pause",
             f"checks/{uuid.uuid4()}/pings/x/body", "nothing-here"]  # fmt: skip
    for path in paths:
        response = api.post(path) if path.endswith("pause") else api.get(path)
        assert (response.status_code, response.json()) == (404, {"error": "not found"})


def test_the_openapi_description_lists_every_path_and_the_check_schema(client):
    description = client.get("/api/v3/openapi.json").json()
    assert description["openapi"].startswith("3.")
    assert {
        "/api/v3/checks/", "/api/v3/checks/{code}", "/api/v3/checks/{code}/pause",
        "/api/v3/checks/{code}/resume", "/api/v3/checks/{code}/pings/",
        "/api/v3/checks/{code}/pings/{n}/body", "/api/v3/checks/{code}/flips/",
        "/api/v3/badges/", "/api/v3/status/", "/api/v3/channels/", "/api/v3/channels/{id}",
        "/api/v3/maintenance/", "/api/v3/maintenance/{id}",
    } == set(description["paths"])  # fmt: skip
    schemas = description["components"]["schemas"]
    fields = schemas["Check"]["properties"]
    assert {"name", "slug", "timeout", "schedule", "tz", "unique", "filter_body"} <= set(fields)
    assert {"kind", "notify", "url", "to", "routing_key", "secret", "headers"} <= set(
        schemas["Channel"]["properties"]
    )
    assert {"start", "end", "days", "from", "to", "tz", "checks", "tags", "all"} <= set(
        schemas["Maintenance"]["properties"]
    )


def test_a_new_slug_renames_the_job_and_keeps_its_history(api, client):
    code = api.post("checks/", {"slug": "old-name"}).json()["uuid"]
    client.post(f"/ping/{code}", "hello", content_type="text/plain")
    renamed = api.post(f"checks/{code}", {"slug": "new-name"})
    assert (renamed.status_code, renamed.json()["slug"], renamed.json()["uuid"]) == (
        200, "new-name", code,
    )  # fmt: skip
    job = JobHeartbeat.objects.get()
    assert (job.job_name, str(job.uuid), job.events.count()) == ("new-name", code, 1)


def test_v1_and_v2_derive_the_slug_from_a_new_name(api):
    api.v = 2
    code = api.post("checks/", {"name": "First"}).json()["uuid"]
    assert api.post(f"checks/{code}", {"name": "Second Name"}).json()["slug"] == "second-name"
    api.v = 3
    assert api.post(f"checks/{code}", {"name": "Third"}).json()["slug"] == "second-name"


def test_listing_costs_the_same_statements_for_10_and_1000_checks(api):
    def statements(jobs: int) -> int:
        JobHeartbeat.objects.all().delete()
        JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"job-{i}") for i in range(jobs))
        with CaptureQueriesContext(connection) as queries:
            assert len(api.get("checks/").json()["checks"]) == jobs
        return len(queries)

    statements(1)  # the key's first use in this minute also records its last use
    assert statements(10) == statements(1000)
