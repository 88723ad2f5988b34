"""Recognisable secrets are set, every failure path is driven, and no output holds them:
webhook URLs, API keys, ping keys, the secret key, the generated admin password."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.debug import technical_500_response

from heartbeats.alerts import test_alert
from heartbeats.models import AlertDelivery, ChannelStatus, CheckRun, JobHeartbeat, PingEvent
from tests.admin_support import staff_client
from tests.conftest import RESEND_SECRET_KEY, SLACK_SECRET_PATH, received

pytestmark = pytest.mark.django_db

SLACK = "/services/TSECRETSLACK/BSECRETSLACK/slackSECRETtoken123"
RESEND = "re_SECRETresendAPIkey987654321"
PING = "pingSECRETkey-0123456789abcdef"
DJANGO_SECRET = "djangoSECRETkey-" + "x" * 40
FRAGMENTS = ["TSECRETSLACK", "BSECRETSLACK", "slackSECRETtoken123", RESEND, PING, DJANGO_SECRET]


@pytest.fixture
def secrets_set(settings, httpserver):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for(SLACK)
    settings.RESEND_API_KEY = RESEND
    settings.RESEND_FROM = "alerts@example.com"
    settings.ALERT_EMAIL_TO = ["ops@example.com"]
    settings.RESEND_API_URL = httpserver.url_for("/resend").rstrip("/")
    settings.PING_KEYS = [PING]
    settings.SECRET_KEY = DJANGO_SECRET
    settings.ALERT_THROTTLE = False
    settings.ALERT_RETRIES_PER_RUN = 1
    settings.ALERT_RETRY_BASE_SECONDS = 0.01
    echo = f"{settings.SLACK_WEBHOOK_URL} {RESEND} {PING} {DJANGO_SECRET}"
    httpserver.expect_request(SLACK).respond_with_data(echo, status=500)
    httpserver.expect_request("/resend/emails").respond_with_data(echo, status=401)
    return httpserver


def test_no_secret_in_any_output(secrets_set, make_job, client, caplog, capsys):
    texts: list[str] = []
    make_job("backup", age=timedelta(hours=30))
    with caplog.at_level(logging.DEBUG):
        out, err = StringIO(), StringIO()
        with pytest.raises(CommandError) as failed:
            call_command("run_healthcheck", "--json", stdout=out, stderr=err)
        texts += [out.getvalue(), err.getvalue(), str(failed.value)]
        texts += [repr(o) for o in test_alert.send_test_alert(now=timezone.now())]
        for url in (f"/ping/{PING}/backup", f"/ping/{PING}/unknown-job", f"/ping/{PING}/bad name",
                    f"/ping/{PING}/backup/999", "/ping/not-the-key/backup"):  # fmt: skip
            response = client.post(url, data=f"body {PING}", content_type="text/plain")
            texts.append(response.content.decode() + str(response.headers))
        for url in ("/healthz", "/metrics", "/summary.json", "/summary/"):
            texts.append(client.get(url).getvalue().decode(errors="replace"))
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            request = RequestFactory().get(f"/ping/{PING}/x", HTTP_AUTHORIZATION=f"Bearer {PING}")
            texts.append(technical_500_response(request, *sys.exc_info()).content.decode())
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    texts += [r.getMessage() for r in caplog.records if r.name != "werkzeug"]
    texts += list(AlertDelivery.objects.values_list("last_error", flat=True))
    texts += list(CheckRun.objects.values_list("error", flat=True))
    texts += list(ChannelStatus.objects.values_list("last_error", flat=True))
    texts += [str(m) for m in JobHeartbeat.objects.values_list("metadata", flat=True)]
    everything = "\n".join(texts)
    assert "could not be delivered" in everything  # the failure paths really ran
    assert PingEvent.objects.filter(job_id="backup").exists()
    for fragment in FRAGMENTS:
        assert fragment not in everything.replace(f"body {PING}", ""), fragment


@pytest.mark.parametrize("logger_name", ["django.server", "django.request", "django", "heartbeats"])
def test_every_log_handler_redacts_a_ping_key(secrets_set, logger_name):
    """runserver's request log holds URLs; a by-name ping URL holds a key."""
    logger = logging.getLogger(logger_name)
    while not logger.handlers and logger.propagate and logger.parent:
        logger = logger.parent
    assert logger.handlers
    record = logging.LogRecord(
        logger_name, logging.WARNING, __file__, 1, '"%s" %s', (f"GET /ping/{PING}/x", 404), None
    )
    for handler in logger.handlers:
        assert handler.filter(record)
    assert PING not in record.getMessage()
    assert "/ping/[redacted]/x" in record.getMessage()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/heartbeats/jobheartbeat/?status=%00",
        "/admin/heartbeats/alert/?kind=%00",
        "/admin/heartbeats/jobheartbeat/%00/change/",
        "/ping/%00",
    ],
)
def test_nul_in_a_url_is_a_400_not_a_500(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400
    assert b"NUL characters are not allowed" in response.content


SLACK_TOKEN = SLACK_SECRET_PATH.rsplit("/", 1)[1]
DOCS_URL = "https://docs.example.com/backup#retry"


def leaky_output(settings) -> str:
    return (
        f"posting to {settings.SLACK_WEBHOOK_URL} failed\n"
        f"token {SLACK_TOKEN} rejected\n"
        f"resend key {RESEND_SECRET_KEY} unset; see {DOCS_URL}"
    )


def fail_with_output(output: str) -> None:
    """`beat NAME -- cmd` for a command that prints `output` and fails."""
    script = f"import sys; print({output!r}); sys.exit(1)"
    with pytest.raises(CommandError):
        call_command("beat", "backup", "--", sys.executable, "-c", script, stdout=StringIO())


def leaked(text: str, settings) -> list[str]:
    secrets = [settings.SLACK_WEBHOOK_URL, SLACK_SECRET_PATH, SLACK_TOKEN, RESEND_SECRET_KEY]
    return [secret for secret in secrets if secret in text]


def test_alerts_send_a_jobs_output_without_the_configured_secrets(
    slack_ok, email_ok, clock, settings
):
    fail_with_output(leaky_output(settings))
    call_command("run_healthcheck", stdout=StringIO())
    (slack,) = received(slack_ok, SLACK_SECRET_PATH)
    (email,) = received(email_ok, "/resend/emails")
    for sent in (slack.get_data(as_text=True), email.get_data(as_text=True)):
        assert "posting to [redacted] failed" in sent
        assert "token [redacted] rejected" in sent
        assert "resend key [redacted] unset" in sent
        assert DOCS_URL in sent  # other URLs are the job's to show
        assert leaked(sent, settings) == []


def test_an_alerts_output_tail_is_not_cut_inside_a_secret(slack_ok, email_ok, clock, settings):
    """The last 1000 characters would start 10 characters before the webhook URL ends."""
    url = settings.SLACK_WEBHOOK_URL
    fail_with_output("a" * 2000 + url + "b" * 989)
    call_command("run_healthcheck", stdout=StringIO())
    (slack,) = received(slack_ok, SLACK_SECRET_PATH)
    sent = slack.get_json()["text"]
    assert url[-10:] not in sent
    assert f"[redacted]{'b' * 989}" in sent


def test_the_job_page_shows_its_output_without_the_configured_secrets(channels, clock, settings):
    fail_with_output(settings.SLACK_WEBHOOK_URL + " " + leaky_output(settings))
    viewer = staff_client("view_jobheartbeat")
    page = viewer.get(reverse("admin:heartbeats_jobheartbeat_change", args=["backup"]))
    text = page.content.decode()
    assert "<summary>[redacted] posting to [redacted] failed …" in text  # the preview
    assert "posting to [redacted] failed\ntoken [redacted] rejected\n" in text  # expanded
    assert DOCS_URL in text
    assert leaked(text, settings) == []


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


# A server echoing the secrets back with a 500 is in test_no_secret_in_any_output.
@pytest.mark.parametrize("failure", ["refused", "permanent_404"])
def test_secrets_absent_when_delivery_fails(make_job, channels, settings, caplog, capsys, failure):
    make_job("backup", age=timedelta(hours=30))
    leak = f"{settings.SLACK_WEBHOOK_URL} key={RESEND_SECRET_KEY} path={SLACK_SECRET_PATH}"
    if failure == "refused":
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
