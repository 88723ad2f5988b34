"""py-healthchecks.io, an independently written client of Healthchecks' management API, drives
the live server: create, update, pause, resume, delete, pings, flips and badges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from healthchecks_io import CheckCreate, CheckNotFoundError, Client, HCAPIAuthError
from healthchecks_io.schemas import CheckStatuses, CheckUpdate

from heartbeats.alerts import check_run
from heartbeats.models import JobHeartbeat
from tests.api_support import make_key


@pytest.fixture
def hc(live_server, settings):
    settings.SITE_URL = live_server.url
    with Client(
        api_key=make_key(), api_url=f"{live_server.url}/api/", ping_url=f"{live_server.url}/ping/",
        api_version=3,
    ) as client:  # fmt: skip
        yield client


def test_the_client_manages_a_check_from_creation_to_deletion(hc):
    check = hc.create_check(CheckCreate(name="Nightly Backup", tags="prod db", timeout=3600))
    assert (check.name, check.slug, check.tags, check.timeout, check.status) == (
        "Nightly Backup", "nightly-backup", "prod db", 3600, "new",
    )  # fmt: skip
    # The client reads the UUID off the end of ping_url, as it does with Healthchecks.
    assert check.uuid == str(JobHeartbeat.objects.get().uuid)

    updated = hc.update_check(check.uuid, CheckUpdate(desc="runs at 2", grace=300))
    assert (updated.desc, updated.grace, updated.timeout) == ("runs at 2", 300, 3600)
    assert [c.slug for c in hc.get_checks(tags=["prod", "db"])] == ["nightly-backup"]
    assert hc.get_checks(tags=["staging"]) == []

    assert hc.pause_check(check.uuid).status == "paused"
    # The client has no resume call: its own HTTP session sends the documented request.
    resumed = hc._client.post(f"{hc._api_url}checks/{check.uuid}/resume")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "new")

    assert hc.success_ping(uuid=check.uuid, data="42 files") == (True, "OK")
    pings = hc.get_check_pings(check.uuid)
    assert [(p.type, p.number_of_pings, p.method) for p in pings] == [("success", 1, "POST")]
    assert hc.get_check(check.uuid).n_pings == 1

    badges = hc.get_badges()
    assert set(badges) == {"*", "prod", "db"}
    assert hc._client.get(badges["prod"].json_url).json()["status"] == "up"

    assert hc.delete_check(check.uuid).uuid == check.uuid
    with pytest.raises(CheckNotFoundError):
        hc.get_check(check.uuid)


def test_flips_as_the_api_documents_them(hc, settings):
    settings.SLACK_WEBHOOK_URL = ""
    check = hc.create_check(CheckCreate(name="report", timeout=60, grace=60))
    hc.success_ping(uuid=check.uuid)
    job = JobHeartbeat.objects.get()
    check_run.run_check(now=job.last_run_at + timedelta(minutes=5), sleep=lambda s: None)
    # The client's get_check_flips iterates the answer as a list, but Healthchecks documents
    # (and this API answers) {"flips": [...]}: read it with the client's session and schema.
    answer = hc._client.get(f"{hc._api_url}checks/{check.uuid}/flips/").json()
    flips = [CheckStatuses(**flip) for flip in answer["flips"]]
    assert [flip.up for flip in flips] == [0]


def test_a_read_only_key_is_refused_writes(live_server, settings):
    with Client(api_key=make_key(read_only=True), api_url=f"{live_server.url}/api/") as client:
        with pytest.raises(HCAPIAuthError):
            client.create_check(CheckCreate(name="nope"))
        assert client.get_checks() == []
    assert not JobHeartbeat.objects.exists()
