"""Channel secrets (webhook URLs, routing keys, signing secrets, headers) are write-only in the
admin, encrypted at rest, rotated by a command, and absent from every page, output, log,
stored error and database dump, even when a service echoes them back."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from heartbeats.models import AlertDelivery, Channel, ChannelStatus, CheckRun
from tests.settings_support import read_settings, refusal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("six_hourly_checker")]

HOOK_TOKEN = "HOOKsecretTOKEN0123456789"
SIGNING = "SIGNINGsecret-abcdef012345"
HEADER = "HEADERsecretBEARER-987654"
ROUTING = "ROUTINGsecretKEY-0123456789"
TEAMS_TOKEN = "TEAMSsecretTOKEN-0123456789"
SECRETS = [HOOK_TOKEN, SIGNING, HEADER, ROUTING, TEAMS_TOKEN]
FORM_FIELDS = ["tags", "recipients", "url", "routing_key", "signing_secret", "headers"]


@pytest.fixture
def echoing(no_channels, settings, httpserver):
    """Every service refuses, quoting back the secrets it was given (and the signing secret,
    which it never is)."""
    settings.PAGERDUTY_EVENTS_URL = httpserver.url_for("/v2/enqueue")
    settings.ALERT_THROTTLE = False
    settings.ALERT_RETRIES_PER_RUN = 0
    hook = f"{httpserver.url_for(f'/hooks/{HOOK_TOKEN}')} {HOOK_TOKEN} {SIGNING} {HEADER}"
    httpserver.expect_request(f"/hooks/{HOOK_TOKEN}").respond_with_data(hook, status=500)
    pager = {"message": f"routing key {ROUTING} is unknown"}
    httpserver.expect_request("/v2/enqueue").respond_with_json(pager, status=400)
    teams = f"{httpserver.url_for(f'/teams/{TEAMS_TOKEN}')} {TEAMS_TOKEN} not found"
    httpserver.expect_request(f"/teams/{TEAMS_TOKEN}").respond_with_data(teams, status=404)
    return httpserver


def add_channel(client, **fields) -> None:
    data = dict.fromkeys(
        ["tags", "recipients", "url", "routing_key", "signing_secret", "headers"], ""
    )
    data.update({"notify_down": "on", "notify_up": "on", "is_default": "on", **fields})
    response = client.post("/admin/heartbeats/channel/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


@pytest.fixture
def admin_channels(admin_client, echoing):
    add_channel(admin_client, name="hook", kind="webhook",
                url=echoing.url_for(f"/hooks/{HOOK_TOKEN}"), signing_secret=SIGNING,
                headers=f"Authorization: Bearer {HEADER}")  # fmt: skip
    add_channel(admin_client, name="pager", kind="pagerduty", routing_key=ROUTING)
    add_channel(admin_client, name="teams", kind="msteams",
                url=echoing.url_for(f"/teams/{TEAMS_TOKEN}"))  # fmt: skip
    return admin_client


def assert_no_secret(text: str) -> None:
    assert [secret for secret in SECRETS if secret in text] == []


def test_secrets_are_stored_encrypted_and_kept_when_the_form_leaves_them_blank(admin_channels):
    hook = Channel.objects.get(name="hook")
    assert hook.read_secrets() == {
        "url": hook.read_secrets()["url"],
        "signing_secret": SIGNING,
        "headers": {"Authorization": f"Bearer {HEADER}"},
    }
    assert HOOK_TOKEN in hook.read_secrets()["url"]
    data = dict.fromkeys(FORM_FIELDS, "")
    data.update({"name": "hook", "kind": "webhook", "tags": "data", "notify_down": "on"})
    response = admin_channels.post(f"/admin/heartbeats/channel/{hook.pk}/change/", data)
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.tags, hook.read_secrets()["signing_secret"]) == ("data", SIGNING)


def test_no_admin_page_shows_a_secret(admin_channels, make_job):
    hook = Channel.objects.get(name="hook")
    job = make_job("backup", tags="data")
    job.channels.add(hook)
    pages = [
        "/admin/heartbeats/channel/",
        f"/admin/heartbeats/channel/{hook.pk}/change/",
        f"/admin/heartbeats/channel/{Channel.objects.get(name='pager').pk}/change/",
        f"/admin/heartbeats/jobheartbeat/{job.pk}/change/",
        "/admin/heartbeats/jobheartbeat/configuration/",
    ]
    for url in pages:
        content = admin_channels.get(url).content.decode()
        assert_no_secret(content)
    change = admin_channels.get(f"/admin/heartbeats/channel/{hook.pk}/change/").content.decode()
    assert "webhook URL: •••••••• (set)" in change
    assert "signing secret: •••••••• (set)" in change


def test_a_form_error_does_not_render_the_secrets_back(admin_client, echoing):
    data = {"name": "slack", "kind": "webhook", "url": f"https://example.com/{HOOK_TOKEN}",
            "signing_secret": SIGNING, "headers": f"Authorization: Bearer {HEADER}"}  # fmt: skip
    response = admin_client.post("/admin/heartbeats/channel/add/", data)
    assert response.status_code == 200
    content = response.content.decode()
    assert "name the channels from the environment" in content
    assert_no_secret(content)


def test_a_database_dump_holds_no_secret(admin_channels):
    out = StringIO()
    call_command("dumpdata", "heartbeats.channel", stdout=out)
    assert_no_secret(out.getvalue())
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM heartbeats_channel")
        assert_no_secret(repr(cursor.fetchall()))


def test_no_output_log_or_stored_error_holds_a_secret(admin_channels, make_job, caplog):
    make_job("backup", age=timedelta(hours=30))
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(CommandError) as check_failed:
            call_command("run_healthcheck", stdout=(out := StringIO()), stderr=(err := StringIO()))
        with pytest.raises(CommandError) as failed:
            call_command("send_test_alert", stdout=(test_out := StringIO()))
    texts = [out.getvalue(), err.getvalue(), test_out.getvalue(), str(failed.value)]
    texts.append(str(check_failed.value))
    texts += [r.getMessage() for r in caplog.records if r.name != "werkzeug"]
    texts += list(AlertDelivery.objects.values_list("last_error", flat=True))
    texts += list(ChannelStatus.objects.values_list("last_error", flat=True))
    texts += list(CheckRun.objects.values_list("error", flat=True))
    everything = "\n".join(texts)
    assert "hook: HTTP 500 ([redacted]" in everything  # the failure paths really ran
    assert "pager: HTTP 400" in everything and "teams: HTTP 404" in everything
    assert_no_secret(everything)


def test_rotation_re_encrypts_with_the_first_key(settings, make_channel):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CHANNEL_SECRET_KEY = [old]
    channel = make_channel("hook", "webhook", secrets={"url": "https://x.example/" + HOOK_TOKEN})
    settings.CHANNEL_SECRET_KEY = [new, old]
    call_command("rotate_channel_secrets", stdout=(out := StringIO()))
    assert out.getvalue() == "Re-encrypted the secrets of 1 channel(s).\n"
    settings.CHANNEL_SECRET_KEY = [new]
    channel.refresh_from_db()
    assert channel.read_secrets()["url"].endswith(HOOK_TOKEN)


def test_a_channel_no_key_opens_fails_rotation_by_name(settings, make_channel):
    settings.CHANNEL_SECRET_KEY = [Fernet.generate_key().decode()]
    make_channel("hook", "webhook", secrets={"url": "https://x.example/" + HOOK_TOKEN})
    settings.CHANNEL_SECRET_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="No configured key opens the secrets of hook"):
        call_command("rotate_channel_secrets", stdout=StringIO())


def test_a_wrong_channel_secret_key_is_refused_at_start_without_quoting_it(monkeypatch):
    good = Fernet.generate_key().decode()
    line = refusal(monkeypatch, "CHANNEL_SECRET_KEY", "Fernet keys",
                   DEBUG="true", CHANNEL_SECRET_KEY=f"{good},not-a-KEYsecret")  # fmt: skip
    assert "KEYsecret" not in line and good not in line
    keys = read_settings(monkeypatch, DEBUG="true", CHANNEL_SECRET_KEY=f" {good} ,")
    assert keys["CHANNEL_SECRET_KEY"] == [good]
