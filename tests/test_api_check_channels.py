"""A check's `channels` over the API routes its alerts for real: the named channels only, ""
none at all (not even its tags' or the defaults), "*" back to its tags' or the default ones;
an unknown channel is refused and changes nothing."""

from __future__ import annotations

import pytest

from heartbeats.alerts import check_run, routing
from heartbeats.models import JobHeartbeat

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]


@pytest.fixture
def hooks(no_channels, httpserver, settings, make_channel):
    """Webhooks kept in the database: `fallback` a default one, `data` by tag, `named`."""
    settings.ALERT_THROTTLE, settings.ALERT_RETRIES_PER_RUN = False, 0
    made = {}
    for name, fields in (("fallback", {"is_default": True}), ("data", {"tags": "data"}),
                         ("named", {}), ("other", {})):  # fmt: skip
        httpserver.expect_request(f"/{name}").respond_with_data("ok")
        url = httpserver.url_for(f"/{name}")
        made[name] = make_channel(name, "webhook", secrets={"url": url}, **fields)
    return made


def alerted_paths(server, clock) -> list[str]:
    clock.advance(hours=30)  # the checks were made at T0 with a one-day timeout
    check_run.run_check(now=clock.now(), sleep=lambda seconds: None)
    return sorted(request.path for request, _ in server.log)


def test_named_channels_only_get_the_alert_and_the_check_shows_their_ids(
    api, hooks, httpserver, clock
):  # fmt: skip
    made = api.post("checks/", {"name": "etl", "tags": "data", "channels": "named, other"})
    named, other = str(hooks["named"].id), str(hooks["other"].id)
    assert made.json()["channels"] == ",".join(sorted([named, other]))
    by_id = api.post(f"checks/{made.json()['uuid']}", {"channels": named}).json()
    assert by_id["channels"] == named
    assert alerted_paths(httpserver, clock) == ["/data", "/named"]  # its tag's channel too


def test_an_empty_channels_means_no_alert_at_all(api, hooks, httpserver, clock):
    made = api.post("checks/", {"name": "etl", "tags": "data", "channels": ""}).json()
    assert made["channels"] == ""
    assert api.get("checks/").json()["checks"][0]["channels"] == ""
    assert routing.job_routes(JobHeartbeat.objects.get()) == []
    assert alerted_paths(httpserver, clock) == []


def test_a_star_goes_back_to_the_tag_or_default_channels(api, hooks, httpserver, clock):
    code = api.post("checks/", {"name": "etl", "channels": "named"}).json()["uuid"]
    assert api.post(f"checks/{code}", {"channels": "*"}).json()["channels"] == "*"
    assert not JobHeartbeat.objects.get().channels.exists()
    assert alerted_paths(httpserver, clock) == ["/fallback"]


def test_an_unknown_channel_changes_nothing(api, hooks):
    code = api.post("checks/", {"name": "etl", "channels": "named"}).json()["uuid"]
    refused = api.post(f"checks/{code}", {"channels": "named,nope", "desc": "changed"})
    assert (refused.status_code, refused.json()) == (
        400, {"error": "invalid channel identifier: nope"},
    )  # fmt: skip
    job = JobHeartbeat.objects.get()
    assert (job.desc, [c.name for c in job.channels.all()]) == ("", ["named"])
    assert api.post("checks/", {"name": "new", "channels": "nope"}).status_code == 400
    assert JobHeartbeat.objects.count() == 1


def test_listing_checks_reads_channels_in_a_fixed_number_of_queries(api, hooks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(n: int) -> int:
        for i in range(n):
            api.post("checks/", {"name": f"job {n} {i}", "channels": "named"})
        with CaptureQueriesContext(connection) as captured:
            api.get("checks/")
        JobHeartbeat.objects.all().delete()
        return len(captured)

    assert queries(2) == queries(12)
