"""Bad input to every writing endpoint is answered 400 with a one-line reason, and nothing is
written; bad query parameters likewise. Never a 500."""

from __future__ import annotations

import pytest

from heartbeats.models import ApiRequestCount, JobHeartbeat

pytestmark = pytest.mark.django_db

BAD_SPECS = [
    ({"name": 5}, "json validation error: name is not a string"),
    ({"name": None}, "json validation error: name is not a string"),
    ({"name": "x" * 101}, "json validation error: name is too long"),
    ({"slug": "has space"}, "json validation error: slug must be 1 to 128 letters, digits"),
    ({"tags": ["a"]}, "json validation error: tags is not a string"),
    ({"tags": "ok b@d!"}, "json validation error: tags: Tag 'b@d!' is not 1 to 64"),
    ({"timeout": "3600"}, "json validation error: timeout is not a number"),
    ({"timeout": 3600.5}, "json validation error: timeout is not a number"),
    ({"timeout": None}, "json validation error: timeout is not a number"),
    ({"timeout": 59}, "json validation error: timeout is too small"),
    ({"timeout": 31536001}, "json validation error: timeout is too large"),
    ({"grace": True}, "json validation error: grace is not a number"),
    ({"schedule": "61 * * * *"}, "json validation error: schedule is not a valid cron expression"),
    ({"schedule": 5}, "json validation error: schedule is not a string"),
    ({"tz": "Mars/Olympus"}, "json validation error: tz is not a valid timezone"),
    ({"manual_resume": "yes"}, "json validation error: manual_resume is not a boolean"),
    ({"methods": "GET"}, "json validation error: methods has unexpected value"),
    ({"unique": "name"}, "json validation error: unique is not an array"),
    ({"unique": ["desc"]}, "json validation error: an item in 'unique' has unexpected value"),
    ({"channels": "a,,b"}, "empty channel identifier"),
    ({"channels": "nope"}, "invalid channel identifier: nope"),
    ({"channels": "Slack"}, "channel 'Slack' comes from the environment"),
    ({"channels": 5}, "json validation error: channels is not a string"),
    ({"filter_body": 1}, "json validation error: filter_body is not a boolean"),
    ({"success_kw": "x" * 201}, "json validation error: success_kw is too long"),
]


def _state():
    return list(JobHeartbeat.objects.order_by("job_name").values())


@pytest.fixture
def code(api) -> str:
    return api.post("checks/", {"name": "Backups", "timeout": 3600}).json()["uuid"]


@pytest.mark.parametrize(("spec", "reason"), BAD_SPECS)
def test_bad_fields_are_refused_on_create_and_update(api, code, spec, reason):
    before = _state()
    for path in ("checks/", f"checks/{code}"):
        response = api.post(path, spec)
        assert response.status_code == 400, path
        assert response.json()["error"].startswith(reason)
    assert _state() == before


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "could not parse request body"),
        ("[1, 2]", "json validation error: value is not an object"),
        ('"text"', "json validation error: value is not an object"),
        ('{"timeout": NaN}', "could not parse request body"),
        (b"\xff\xfe", "could not parse request body"),
        ("[" * 100_000, "request body is larger than"),
        ("[" * 60_000, "could not parse request body"),
        ('{"desc": "' + "x" * 70_000 + '"}', "request body is larger than 65536 bytes"),
    ],
)
def test_unreadable_or_huge_bodies_are_refused(api, code, raw, reason):
    before = _state()
    for path in ("checks/", f"checks/{code}", f"checks/{code}/pause"):
        response = api.post(path, raw=raw)
        assert response.status_code == 400, path
        assert response.json()["error"].startswith(reason)
    assert _state() == before


def test_a_huge_body_is_not_read_whole(api, settings):
    settings.API_BODY_LIMIT = 2048
    response = api.post("checks/", raw='{"desc": "' + "x" * 5000 + '"}')
    assert response.json() == {"error": "request body is larger than 2048 bytes"}


def test_a_refused_request_is_still_counted_for_the_rate_limit_only_once_authorised(api):
    api.post("checks/", raw="{not json")
    assert not ApiRequestCount.objects.exists()


def test_a_taken_slug_is_a_conflict(api, code):
    response = api.post("checks/", {"slug": "BACKUPS"})
    assert (response.status_code, response.json()) == (
        409, {"error": "a check with slug 'BACKUPS' already exists"},
    )  # fmt: skip


def test_schedule_with_timeout_makes_a_cron_check(api):
    body = api.post("checks/", {"name": "x", "timeout": 600, "schedule": "*/5 * * * *"}).json()
    assert (body["schedule"], "timeout" in body) == ("*/5 * * * *", False)


@pytest.mark.parametrize(
    "query", ["seconds=-1", "seconds=abc", "start=1.5", "end=99999999999999", "seconds=31536001"]
)
def test_bad_flip_filters_are_refused(api, code, query):
    response = api.client.get(f"/api/v3/checks/{code}/flips/?{query}", HTTP_X_API_KEY=api.key)
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid query: ")


def test_unknown_healthchecks_fields_are_accepted(api):
    response = api.post(
        "checks/",
        {"name": "x", "subject": "OK", "subject_fail": "ERR", "filter_subject": True,
         "req_success_kw": "x", "api_key": "ignored-when-the-header-is-there"},
    )  # fmt: skip
    assert response.status_code == 201


FIELDS = [
    "name", "slug", "tags", "desc", "timeout", "grace", "schedule", "tz", "manual_resume",
    "methods", "channels", "start_kw", "success_kw", "failure_kw", "filter_body", "unique",
    "subject", "subject_fail", "filter_subject",
]  # fmt: skip
ODD_VALUES = [None, 0, -1, 10**30, 1.5, "", "x", "\x00", "\ud800", [], [None], {}, True, "x" * 300]


@pytest.mark.parametrize("field", FIELDS)
def test_no_value_of_any_field_gets_a_server_error(api, code, field):
    for value in ODD_VALUES:
        for path in ("checks/", f"checks/{code}"):
            before = _state()
            response = api.post(path, {field: value})
            assert response.status_code in (200, 201, 400, 409), (field, value, path)
            if response.status_code >= 400:
                assert response.json()["error"]
                assert _state() == before
    assert api.get("checks/").status_code == 200


def test_nul_and_lone_surrogates_are_refused(api):
    assert api.post("checks/", {"desc": "a\x00b"}).json() == {
        "error": "json validation error: desc contains a NUL character"
    }
    assert api.post("checks/", raw='{"name": "\\ud800"}').json() == {
        "error": "json validation error: name is not valid UTF-8 (a lone surrogate?)"
    }
