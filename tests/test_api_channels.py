"""Channels over the API: every kind created, changed and deleted, each delivering a checker
pass's alert to a local receiver; secrets never answered nor logged; the environment's channels
listed read-only; bad input refused with a reason and nothing written."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from heartbeats.alerts import check_run
from heartbeats.models import Channel
from tests.conftest import SLACK_SECRET_PATH, received

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]

H = timedelta(hours=1)
SECRET = "s3cretTOKENvalue"


@pytest.fixture
def receiver(no_channels, httpserver, settings):
    """No environment channel; Resend and PagerDuty pointed at the local server."""
    settings.RESEND_API_KEY, settings.RESEND_FROM = "re_key", "alerts@example.com"
    settings.RESEND_API_URL = httpserver.url_for("/resend").rstrip("/")
    settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("/pagerduty")
    settings.ALERT_THROTTLE, settings.ALERT_RETRIES_PER_RUN = False, 0
    settings.ALERT_CONNECT_TIMEOUT = settings.ALERT_READ_TIMEOUT = 1
    httpserver.expect_request("/resend/emails").respond_with_json({"id": "e-1"})
    httpserver.expect_request("/pagerduty").respond_with_json({"status": "success"}, status=202)
    return httpserver


def settings_for(kind: str, server, n: int) -> tuple[dict, str]:
    """The kind's settings for the `n`th version of the channel, and the path it posts to."""
    server.expect_request(f"/hook{n}{SECRET}").respond_with_data("ok")
    url = server.url_for(f"/hook{n}{SECRET}")
    if kind == "email":
        return {"to": [f"ops{n}@example.com"]}, "/resend/emails"
    if kind == "pagerduty":
        return {"routing_key": f"R{n}{SECRET}"}, "/pagerduty"
    if kind == "webhook":
        return {"url": url, "secret": SECRET, "headers": {"X-Token": SECRET}}, f"/hook{n}{SECRET}"
    return {"url": url}, f"/hook{n}{SECRET}"


def alert_stale_job(name: str, make_job, clock) -> None:
    make_job(name, age=30 * H, now=clock.now())
    check_run.run_check(now=clock.now(), sleep=lambda seconds: None)


@pytest.mark.parametrize("kind", ["slack", "email", "webhook", "pagerduty", "msteams"])
def test_each_kind_is_created_changed_and_deleted_and_delivers_a_pass_alert(
    kind, api, receiver, make_job, clock, caplog
):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    first, first_path = settings_for(kind, receiver, 1)
    made = api.post("channels/", {"name": "ops", "kind": kind, "default": True, **first})
    assert made.status_code == 201, made.content
    shown = made.json()
    assert (shown["kind"], shown["notify"], shown["default"], shown["read_only"]) == (
        kind, "both", True, False,
    )  # fmt: skip
    alert_stale_job("backup", make_job, clock)
    assert len(received(receiver, first_path)) == 1
    if kind == "email":
        assert received(receiver, first_path)[0].get_json()["to"] == ["ops1@example.com"]
    if kind == "pagerduty":
        assert received(receiver, first_path)[0].get_json()["routing_key"] == f"R1{SECRET}"
    if kind == "webhook":
        assert received(receiver, first_path)[0].headers["X-Token"] == SECRET

    second, second_path = settings_for(kind, receiver, 2)
    changed = api.post(f"channels/{shown['id']}", {"name": "ops-2", **second})
    assert changed.status_code == 200, changed.content
    before = len(received(receiver, second_path))
    clock.advance(hours=6)
    alert_stale_job("report", make_job, clock)
    assert len(received(receiver, second_path)) > before
    assert len(received(receiver, first_path)) == 1 + (second_path == first_path) * (
        len(received(receiver, second_path)) - 1
    )  # the old URL is no longer used

    gone = api.delete(f"channels/{shown['id']}")
    assert (gone.status_code, gone.json()["name"]) == (200, "ops-2")
    assert not Channel.objects.exists()
    answers = [made.content, changed.content, gone.content, api.get("channels/").content]
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # the receiver's
    for text in [*answers, "\n".join(ours).encode()]:
        assert SECRET.encode() not in text


def test_secrets_are_answered_only_as_set_or_not(api, receiver):
    made = api.post("channels/", {"name": "hook", "kind": "webhook",
                                  "url": f"https://example.com/{SECRET}"}).json()  # fmt: skip
    assert (made["url_set"], made["secret_set"], made["headers_set"]) == (True, False, False)
    assert "url" not in made
    cleared = api.post(f"channels/{made['id']}", {"secret": SECRET, "notify": "down"}).json()
    assert (cleared["secret_set"], cleared["notify"]) == (True, "down")
    channel = Channel.objects.get()
    assert channel.read_secrets()["url"] == f"https://example.com/{SECRET}"
    assert SECRET not in channel.secrets_token


def test_the_list_has_healthchecks_shape_and_the_environment_channels_read_only(
    readonly_api, channels, make_channel
):  # fmt: skip
    stored = make_channel("pager", "pagerduty", secrets={"routing_key": SECRET})
    listed = readonly_api.get("channels/").json()["channels"]
    assert [(c["id"], c["name"], c["kind"]) for c in listed] == [
        ("slack", "slack", "slack"),
        ("email", "email", "email"),
        (str(stored.id), "pager", "pagerduty"),
    ]  # fmt: skip
    assert [c["read_only"] for c in listed] == [True, True, False]
    assert SLACK_SECRET_PATH not in str(listed)
    assert readonly_api.get("channels/slack").json()["url_set"] is True


@pytest.mark.parametrize("method", ["post", "delete"])
def test_the_environment_channels_cannot_be_changed_or_deleted(method, api, channels):
    answer = getattr(api, method)("channels/slack")
    assert answer.status_code == 403
    assert "comes from the environment" in answer.json()["error"]


SLACK = {"name": "ops", "kind": "slack", "url": "https://hooks.example.com/x"}
BAD = [
    ({**SLACK, "name": 5}, "name is not a string"),
    ({**SLACK, "name": None}, "name is not a string"),
    ({**SLACK, "name": ""}, "name is empty"),
    ({**SLACK, "kind": "sms"}, "kind has unexpected value"),
    ({**SLACK, "url": "ftp://example.com/x"}, "url is not an http:// or https:// URL"),
    ({**SLACK, "url": "not a url"}, "url is not an http:// or https:// URL"),
    ({**SLACK, "default": "yes"}, "default is not a boolean"),
    ({**SLACK, "notify": "sometimes"}, "notify has unexpected value"),
    ({**SLACK, "to": ["a@example.com"]}, "to does not apply to a slack channel"),
    ({"name": "ops", "kind": "slack"}, "a slack channel needs url"),
    ({"name": "ops"}, "a new channel needs a name and a kind"),
    ({"name": "m", "kind": "email", "to": "a@example.com"}, "to is not an array"),
    ({"name": "m", "kind": "email", "to": ["nope"]}, "to has an item that is not an email address"),
    ({"name": "m", "kind": "email", "to": []}, "a email channel needs to"),
    ({"name": "p", "kind": "pagerduty"}, "a pagerduty channel needs routing_key"),
    ({**SLACK, "kind": "webhook", "headers": {"Bad Name": "v"}}, "headers has an item that is"),
    ({**SLACK, "kind": "webhook", "headers": ["X: y"]}, "headers is not an object"),
    ({**SLACK, "name": "Slack"}, "'Slack' names a channel from the environment"),
]


@pytest.mark.parametrize(("body", "reason"), BAD)
def test_bad_channel_input_is_refused_with_a_reason_and_nothing_written(api, body, reason):
    answer = api.post("channels/", body)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert not Channel.objects.exists()


def test_a_bad_update_changes_nothing_and_a_taken_name_is_a_conflict(api, make_channel):
    make_channel("other", "slack", secrets={"url": "https://example.com/a"})
    channel = make_channel("ops", "slack", secrets={"url": "https://example.com/b"})
    token = channel.secrets_token
    bad = api.post(f"channels/{channel.id}", {"name": "renamed", "url": "nope"})
    taken = api.post(f"channels/{channel.id}", {"name": "other"})
    huge = api.post(f"channels/{channel.id}", raw='{"name": "' + "x" * 70_000 + '"}')
    assert [bad.status_code, taken.status_code, huge.status_code] == [400, 409, 400]
    channel.refresh_from_db()
    assert (channel.name, channel.secrets_token) == ("ops", token)


def test_unknown_channels_are_not_found(api):
    unknown = "channels/8e3f0d2a-1111-4c1e-9a55-0a5d3c6b7e01"
    for answer in (api.get("channels/nope"), api.post(unknown, {}), api.delete(unknown)):
        assert (answer.status_code, answer.json()) == (404, {"error": "not found"})
