"""Commands and admin pages around channels: a test alert on one channel or all, tags set on
creation by `beat --tags` and a ping's `?create=1&tags=`, the channels page listing the
environment's channels read-only, and the job form naming channels."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from heartbeats.models import Channel, ChannelStatus, JobHeartbeat
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

KEY = "current-ping-key-0123456789"


def test_send_test_alert_tests_the_one_channel_named(slack_ok, email_ok, make_channel, clock):
    slack_ok.expect_request("/hook").respond_with_data("ok")
    hook = make_channel("ops-hook", "webhook", secrets={"url": slack_ok.url_for("/hook")})
    ChannelStatus.objects.create(channel=hook.key, broken_since=T0, last_error="ops-hook: 410")
    out = StringIO()
    call_command("send_test_alert", "--channel", "ops-hook", stdout=out, no_color=True)
    assert out.getvalue() == "ops-hook: delivered\n"
    assert received(slack_ok, SLACK_SECRET_PATH) == []
    assert len(received(slack_ok, "/hook")) == 1
    assert ChannelStatus.objects.get(channel=hook.key).broken_since is None


def test_send_test_alert_tests_every_channel_by_default(slack_ok, email_ok, make_channel, clock):
    slack_ok.expect_request("/hook").respond_with_data("ok")
    make_channel("ops-hook", "webhook", secrets={"url": slack_ok.url_for("/hook")})
    out = StringIO()
    call_command("send_test_alert", stdout=out, no_color=True)
    assert out.getvalue() == "slack: delivered\nemail: delivered\nops-hook: delivered\n"


def test_an_unknown_channel_name_is_a_one_line_error(slack_ok):
    with pytest.raises(CommandError) as raised:
        call_command("send_test_alert", "--channel", "nope", stdout=StringIO())
    assert (str(raised.value), raised.value.returncode) == ("No alert channel is named 'nope'.", 2)


def test_an_email_channel_in_the_database_sends_to_its_own_recipients(
    email_ok, settings, make_channel, clock
):
    settings.SLACK_WEBHOOK_URL = ""
    settings.ALERT_EMAIL_TO = []  # no email channel from the environment, Resend still set
    make_channel("data-team", "email", config={"recipients": ["data@example.com"]})
    call_command("send_test_alert", stdout=StringIO())
    (request,) = received(email_ok, "/resend/emails")
    assert request.json["to"] == ["data@example.com"]


def test_beat_sets_tags_on_a_job_it_creates(db, clock):
    call_command("beat", "nightly", "--tags", "db  nightly db")
    assert JobHeartbeat.objects.get(pk="nightly").tags == "db nightly"
    call_command("beat", "nightly", "--tags", "other")  # an existing job keeps its tags
    assert JobHeartbeat.objects.get(pk="nightly").tags == "db nightly"


def test_beat_refuses_a_bad_tag_in_one_line(db):
    with pytest.raises(CommandError) as raised:
        call_command("beat", "nightly", "--tags", "ok bad!tag", stderr=StringIO())
    assert str(raised.value) == "Tag 'bad!tag' is not 1 to 64 letters, digits or . _ : / @ + = -"
    assert raised.value.returncode == 2
    assert not JobHeartbeat.objects.exists()


def test_a_creating_ping_sets_tags_in_the_same_statements(
    client, settings, clock, django_assert_num_queries
):
    settings.PING_KEYS = [KEY]
    with django_assert_num_queries(4):
        response = client.get(f"/ping/{KEY}/etl?create=1&tags=data+nightly")
    assert response.status_code == 201
    assert JobHeartbeat.objects.get(pk="etl").tags == "data nightly"


def test_a_ping_with_a_bad_tag_is_a_400(client, settings, db):
    settings.PING_KEYS = [KEY]
    response = client.get(f"/ping/{KEY}/etl?create=1&tags=b%C3%A4d")
    assert response.status_code == 400
    assert response.content.decode().startswith("Tag 'bäd' is not")
    assert not JobHeartbeat.objects.exists()


def test_the_channels_page_lists_the_environment_channels_read_only(admin_client, channels):
    content = admin_client.get("/admin/heartbeats/channel/").content.decode()
    assert "From environment (read-only, default)" in content
    assert "<td>slack</td><td>slack</td>" in content
    assert "<td>email</td><td>email</td>" in content


def test_the_job_form_names_channels(admin_client, make_job, make_channel):
    hook = make_channel("ops-hook", "webhook", secrets={"url": "https://example.com/h"})
    job = make_job("etl")
    page = admin_client.get(f"/admin/heartbeats/jobheartbeat/{job.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "channels"}
    data.update({"period": "", "grace": "", "channels": [str(hook.pk)]})
    response = admin_client.post(f"/admin/heartbeats/jobheartbeat/{job.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(job.channels.all()) == [hook]


def test_the_channels_page_shows_a_broken_channel_in_the_same_queries_for_any_number(
    admin_client, make_channel
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for n in (2, 20):
        for i in range(n - Channel.objects.count()):
            make_channel(f"hook-{n}-{i}", "webhook", secrets={"url": "https://example.com/h"})
        with CaptureQueriesContext(connection) as captured:
            page = admin_client.get("/admin/heartbeats/channel/").content.decode()
        counts.append(len(captured))
    broken = Channel.objects.order_by("name").first()
    ChannelStatus.objects.create(channel=broken.key, broken_since=T0, last_error="410")
    page = admin_client.get("/admin/heartbeats/channel/").content.decode()
    assert "broken since 2026-03-02 12:00 UTC" in page
    assert counts[0] == counts[1]


def test_the_delivery_history_filters_by_channel_name(admin_client, make_job, make_alert,
                                                     make_channel):  # fmt: skip
    hook = make_channel("ops-hook", "webhook", secrets={"url": "https://example.com/h"})
    make_alert(make_job("etl"), channels=(hook.key, "slack"))
    page = admin_client.get("/admin/heartbeats/alertdelivery/").content.decode()
    assert f'href="?channel={hook.key}"' in page and ">ops-hook</a>" in page
    assert '<td class="field-channel_name">ops-hook</td>' in page
    filtered = admin_client.get(f"/admin/heartbeats/alertdelivery/?channel={hook.key}")
    assert list(filtered.context["cl"].queryset.values_list("channel", flat=True)) == [hook.key]
    alerts = admin_client.get(f"/admin/heartbeats/alert/?deliveries__channel={hook.key}")
    assert alerts.context["cl"].queryset.count() == 1
    assert "ops-hook: pending" in alerts.content.decode()


def test_a_broken_database_channel_is_named_by_the_check_and_the_configuration_page(
    admin_client, make_channel
):
    from django.core.checks import run_checks

    hook = make_channel("ops-hook", "webhook", secrets={"url": "https://example.com/h"})
    ChannelStatus.objects.create(
        channel=hook.key, broken_since=T0, last_error="ops-hook: HTTP 410 (gone)"
    )
    (warning,) = [m for m in run_checks() if m.id == "heartbeats.W003"]
    assert warning.msg == (
        "Alert channel ops-hook is broken since 2026-03-02 12:00 UTC: ops-hook: HTTP 410 (gone)"
    )
    page = admin_client.get("/admin/heartbeats/jobheartbeat/configuration/").content.decode()
    broken = page[page.index('id="cm-broken"') :].split("</table>")[0]
    assert "<td>ops-hook</td>" in broken
    assert "<th>ops-hook (Webhook)</th><td>configured</td>" in page
