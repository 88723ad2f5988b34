from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import SLACK_SECRET_PATH, received

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("send_test_alert", stdout=out, no_color=True)
    return out.getvalue()


def test_delivers_on_every_channel(db, clock, slack_ok, email_ok):
    assert run() == "slack: delivered\nemail: delivered\n"
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    assert "TEST alert from cronmonitor" in request.get_data(as_text=True)
    assert len(received(email_ok, "/resend/emails")) == 1


def test_a_failed_channel_exits_1_without_its_secret(db, clock, email_ok):
    email_ok.expect_request(SLACK_SECRET_PATH, method="POST").respond_with_data("gone", status=404)
    out = StringIO()
    with pytest.raises(CommandError, match="The test alert failed on slack") as raised:
        call_command("send_test_alert", stdout=out, no_color=True)
    assert raised.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "slack: failed: HTTP 404 (gone)"  # the channel named once
    assert "SECRET" not in out.getvalue()
    assert lines[1] == "email: delivered"


def test_no_channel_exits_2(db, no_channels):
    with pytest.raises(CommandError, match="No alert channel is configured") as raised:
        run()
    assert raised.value.returncode == 2


def test_a_delivered_test_alert_clears_the_broken_mark(slack_ok, email_ok):
    from heartbeats.models import ChannelStatus
    from tests.conftest import T0

    ChannelStatus.objects.create(channel="slack", broken_since=T0, last_error="slack: HTTP 404")
    call_command("send_test_alert", stdout=StringIO())
    assert ChannelStatus.objects.get(channel="slack").broken_since is None
