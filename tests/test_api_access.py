"""Who may call the management API: keys (hashed, read-only, revoked), CORS for browsers, the
per-key rate limit, and the `create_api_key` command."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from heartbeats.access import keys, rate_limit
from heartbeats.models import ApiKey, ApiRequestCount, Channel, JobHeartbeat, MaintenanceWindow
from tests.api_support import Api, make_key
from tests.conftest import at_once

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "checks/"),
    ("post", "checks/{code}"),
    ("delete", "checks/{code}"),
    ("post", "checks/{code}/pause"),
    ("post", "checks/{code}/resume"),
    ("get", "checks/{code}/pings/"),
    ("get", "checks/{code}/pings/1/body"),
]
READS = ["checks/", "checks/{code}", "checks/{code}/flips/", "badges/", "channels/",
         "channels/{channel}", "maintenance/", "maintenance/{window}"]  # fmt: skip
CONFIG_WRITES = [
    ("post", "channels/"),
    ("post", "channels/{channel}"),
    ("delete", "channels/{channel}"),
    ("post", "maintenance/"),
    ("post", "maintenance/{window}"),
    ("delete", "maintenance/{window}"),
]


@pytest.fixture
def code(api) -> str:
    return api.post("checks/", {"name": "Backups"}).json()["uuid"]


@pytest.fixture
def configured(api, code) -> dict[str, str]:
    """A check, a channel and a maintenance window, made with a read-write key."""
    channel = api.post("channels/", {"name": "ops", "kind": "pagerduty", "routing_key": "k"})
    window = api.post("maintenance/", {"name": "w", "days": "sun", "from": "01:00",
                                       "to": "02:00", "checks": [code]})  # fmt: skip
    return {"code": code, "channel": channel.json()["id"], "window": window.json()["id"]}


def _configuration() -> list:
    return [list(model.objects.values()) for model in (Channel, MaintenanceWindow)]


@pytest.mark.parametrize(("method", "path"), CONFIG_WRITES)
def test_a_read_only_key_changes_no_channel_nor_window(readonly_api, configured, method, path):
    before = _configuration()
    body = {"name": "changed", "kind": "slack", "url": "https://example.com/x", "all": True,
            "start": "2026-03-02T11:00:00Z", "end": "2026-03-02T15:00:00Z"}  # fmt: skip
    call = getattr(readonly_api, method)
    response = call(path.format(**configured), *([body] if method == "post" else []))
    assert (response.status_code, response.json()) == (401, {"error": "wrong api key"})
    assert _configuration() == before


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_read_only_key_is_a_wrong_key_on_every_write_endpoint(readonly_api, code, method, path):
    before = JobHeartbeat.objects.values_list("job_name", "paused", "display_name")
    snapshot = list(before)
    response = getattr(readonly_api, method)(path.format(code=code))
    assert (response.status_code, response.json()) == (401, {"error": "wrong api key"})
    assert list(before) == snapshot


@pytest.mark.parametrize("path", READS)
def test_a_read_only_key_reads(readonly_api, configured, path):
    if "{" in path:
        unique_key = readonly_api.get("checks/").json()["checks"][0]["unique_key"]
        path = path.format(**{**configured, "code": unique_key})
    assert readonly_api.get(path).status_code == 200


@pytest.mark.parametrize("path", ["checks/", "badges/", "checks/{code}/flips/"])
def test_missing_and_wrong_keys(client, code, path):
    url = "/api/v3/" + path.format(code=code)
    missing = client.get(url)
    assert (missing.status_code, missing.json()) == (401, {"error": "missing api key"})
    wrong = client.get(url, HTTP_X_API_KEY="cm_" + "x" * 40)
    assert (wrong.status_code, wrong.json()) == (401, {"error": "wrong api key"})


def test_a_revoked_key_is_a_wrong_key(api):
    keys.revoke(ApiKey.objects.all(), now=timezone.now())
    assert api.get("checks/").json() == {"error": "wrong api key"}


def test_keys_are_stored_hashed_and_never_readable(db):
    key = make_key(name="terraform")
    assert key.startswith("cm_") and len(key) == 43
    record = ApiKey.objects.get()
    assert record.digest == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert key not in stored and key[10:20] not in stored


def test_last_used_time_is_recorded(api):
    assert ApiKey.objects.get().last_used_at is None
    api.get("checks/")
    assert ApiKey.objects.get().last_used_at is not None


def test_cors_preflight_and_headers(client):
    preflight = client.options(
        "/api/v3/checks/",
        HTTP_ORIGIN="https://dashboard.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "X-Api-Key" in preflight["Access-Control-Allow-Headers"]
    assert set(preflight["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    assert client.get("/api/v3/checks/")["Access-Control-Allow-Origin"] == "*"


def test_the_rate_limit_answers_429_with_retry_after(api, settings, clock):
    settings.API_RATE_LIMIT = 3
    clock.advance(seconds=15)
    assert [api.get("checks/").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("checks/")
    assert (refused.status_code, refused.json()) == (
        429, {"error": "rate limit exceeded, try again later"},
    )  # fmt: skip
    assert refused["Retry-After"] == "45"
    other = Api(api.client, make_key(name="other"))
    assert other.get("checks/").status_code == 200  # per key
    clock.advance(seconds=45)
    assert api.get("checks/").status_code == 200  # a new minute
    assert sorted(ApiRequestCount.objects.values_list("count", flat=True)) == [1, 1, 4]


def test_create_api_key_prints_the_key_once(db):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "terraform", "--read-only", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert err.getvalue() == "Created read-only API key 'terraform'; it is shown only now:\n"
    assert keys.find(key) == ApiKey.objects.get(name="terraform", read_only=True)


def test_method_not_allowed(api):
    response = api.client.put("/api/v3/checks/", HTTP_X_API_KEY=api.key)
    assert (response.status_code, response["Allow"]) == (405, "GET, POST, OPTIONS")


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_are_all_counted(settings):
    """Eight workers on their own connections, as eight processes would be: the upsert loses
    no count, so the limit holds across processes."""
    settings.API_RATE_LIMIT = 1000
    record = keys.issue(name="busy", read_only=False, now=timezone.now()).record
    now = timezone.now()

    def work(worker: int) -> None:
        for _ in range(10):
            rate_limit.count_request(record, now=now)

    assert at_once(work, 8) == []
    assert ApiRequestCount.objects.get().count == 80
