"""No webhook URL or API key in output, logs, stored errors or exceptions when delivery fails."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from heartbeats.models import AlertDelivery, ChannelStatus, CheckRun, JobHeartbeat
from tests.conftest import RESEND_SECRET_KEY, SLACK_SECRET_PATH

pytestmark = pytest.mark.django_db

SECRET_FRAGMENTS = ["T000SECRET", "B000SECRET", "xoxSECRETslackTOKEN", RESEND_SECRET_KEY]


def _everything(out: StringIO, err: StringIO, caplog, capsys, error: str) -> str:
    captured = capsys.readouterr()
    # werkzeug's records are the fake Slack server's own access log, not cronmonitor's output.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    stored = [
        *AlertDelivery.objects.values_list("last_error", flat=True),
        *CheckRun.objects.values_list("error", flat=True),
        *ChannelStatus.objects.values_list("last_error", flat=True),
        *(str(m) for m in JobHeartbeat.objects.values_list("metadata", flat=True)),
    ]
    return "\n".join(
        [out.getvalue(), err.getvalue(), ours, captured.out, captured.err, error, *stored]
    )


@pytest.mark.parametrize("failure", ["echo_url_500", "refused", "permanent_404"])
def test_secrets_absent_when_delivery_fails(make_job, channels, settings, caplog, capsys, failure):
    make_job("backup", age=timedelta(hours=30))
    leak = f"{settings.SLACK_WEBHOOK_URL} key={RESEND_SECRET_KEY} path={SLACK_SECRET_PATH}"
    if failure == "echo_url_500":
        channels.expect_request(SLACK_SECRET_PATH).respond_with_data(leak, status=500)
        channels.expect_request("/resend/emails").respond_with_data(leak, status=500)
    elif failure == "refused":
        settings.SLACK_WEBHOOK_URL = f"http://127.0.0.1:9{SLACK_SECRET_PATH}"
        settings.RESEND_API_URL = "http://127.0.0.1:9"
    else:
        channels.expect_request(SLACK_SECRET_PATH).respond_with_data(leak, status=404)
        channels.expect_request("/resend/emails").respond_with_data(leak, status=401)
    out, err = StringIO(), StringIO()
    with caplog.at_level(logging.DEBUG), pytest.raises(CommandError) as excinfo:
        call_command("run_healthcheck", stdout=out, stderr=err)
    text = _everything(out, err, caplog, capsys, str(excinfo.value))
    assert "could not be delivered" in text
    for fragment in SECRET_FRAGMENTS:
        assert fragment not in text


def test_ensure_admin_with_an_empty_admin_password_prints_the_generated_one(monkeypatch):
    from django.contrib.auth import authenticate

    monkeypatch.setenv("ADMIN_PASSWORD", "")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("password: ")[1].splitlines()[0]
    assert authenticate(username="admin", password=password) is not None


def test_ensure_admin_with_admin_password_neither_prints_it_nor_promises_to(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "chosen-by-the-operator-42")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "chosen-by-the-operator-42" not in out.getvalue()
    assert "ADMIN_PASSWORD" in out.getvalue()
    assert "shown only this once" not in out.getvalue()
