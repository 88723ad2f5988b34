"""What alert messages say: Slack shows hostile job input literally, a "back up" message says
when the job was last alerted, and the checker's error tells permanent failures from
temporary ones."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from heartbeats import checker
from heartbeats.models import PingEvent
from heartbeats.notifiers import JobAlert, format_job_alert, job_url
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
HOSTILE_OUTPUT = "x <!channel> <https://evil.example|click> & co\n```\n<script>"
HOSTILE_NAME = "inj<!channel>"
HOSTILE_STATUS = "<!here>"


def run(**kwargs) -> checker.CheckResult:
    kwargs.setdefault("now", T0)
    return checker.run_check(sleep=lambda seconds: None, **kwargs)


def hostile_failed_job(make_job, name: str = HOSTILE_NAME) -> None:
    """A failed job whose name, status and output all try Slack markup (the model's
    validators are bypassed, as a database edit would)."""
    job = make_job(name, age=H, status=HOSTILE_STATUS, last_outcome="fail")
    PingEvent.objects.create(job=job, kind="fail", created_at=T0 - H, body=HOSTILE_OUTPUT)


def slack_markup(text: str) -> list[str]:
    """Every `<...>` Slack would parse as a link or mention."""
    return re.findall(r"<[^>]*>", text)


def code_blocks(body: dict) -> list[str]:
    texts = [block.get("text", {}).get("text", "") for block in body["blocks"]]
    return [text for text in texts if text.startswith("```")]


def test_slack_shows_hostile_name_status_and_output_literally(make_job, slack_ok, email_ok):
    hostile_failed_job(make_job)
    run()
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    body = request.get_json()
    blocks = json.dumps(body["blocks"], ensure_ascii=False)
    url = job_url(HOSTILE_NAME)
    for sent in (body["text"], blocks):
        assert "<!channel>" not in sent
        assert "<!here>" not in sent
        assert "<https://evil.example|click>" not in sent
        assert "&lt;https://evil.example|click&gt; &amp; co" in sent
        assert "&amp;lt;" not in sent
    assert body["text"].startswith("inj&lt;!channel&gt; FAILED\n")
    assert "Reported status: &lt;!here&gt;" in body["text"]
    assert f"Details: {url}" in body["text"]
    assert slack_markup(body["text"]) == []
    assert slack_markup(blocks) == [f"<{url}|Open in cronmonitor>"]
    assert body["blocks"][0]["text"]["text"] == "inj&lt;!channel&gt; FAILED"
    assert {"type": "mrkdwn", "text": "*Reported status*\n&lt;!here&gt;"} in body["blocks"][1][
        "fields"
    ]


def test_output_cannot_close_its_slack_code_block(make_job, slack_ok, email_ok):
    hostile_failed_job(make_job)
    run()
    body = received(slack_ok, SLACK_SECRET_PATH)[0].get_json()
    (code,) = code_blocks(body)
    assert code.endswith("```")
    inner = code[3:-3]
    assert "``" not in inner
    assert inner.replace("\u200b", "") == HOSTILE_OUTPUT.replace("&", "&amp;").replace(
        "<", "&lt;"
    ).replace(">", "&gt;")


def test_email_still_escapes_html_once_and_keeps_plain_text_as_is(make_job, slack_ok, email_ok):
    hostile_failed_job(make_job)
    run()
    email = received(email_ok, "/resend/emails")[0].get_json()
    assert "<pre>x &lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co\n" in email["html"]
    assert "&amp;lt;" not in email["html"]
    assert HOSTILE_OUTPUT in email["text"]
    assert email["subject"] == "[cronmonitor] inj<!channel> FAILED"


def test_digest_links_stay_links_with_escaped_labels(make_job, slack_ok, email_ok, settings):
    settings.ALERT_DIGEST_THRESHOLD = 1
    hostile_failed_job(make_job, "a<!channel>")
    hostile_failed_job(make_job, "b>|<https://evil.example")
    run()
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    body = request.get_json()
    assert slack_markup(body["text"]) == []
    assert slack_markup(body["blocks"][1]["text"]["text"]) == [
        f"<{job_url('a<!channel>')}|a&lt;!channel&gt; FAILED>",
        f"<{job_url('b>|<https://evil.example')}|b&gt;|&lt;https://evil.example FAILED>",
    ]


@pytest.mark.parametrize(
    ("output", "code"),
    [
        # Escaping makes output longer: the block keeps the end that fits Slack's 3000.
        ("<" * 1000, "```" + "&lt;" * 700 + "```"),
        ("```", "```\u200b`\u200b`\u200b`\u200b```"),
    ],
)
def test_slack_code_block_fits_and_stays_closed(make_job, slack_ok, email_ok, output, code):
    job = make_job("noisy", age=H, last_outcome="fail")
    PingEvent.objects.create(job=job, kind="fail", created_at=T0 - H, body=output)
    run()
    body = received(slack_ok, SLACK_SECRET_PATH)[0].get_json()
    assert code_blocks(body) == [code]


PERMANENT = (
    "permanent, not retried: the channel is marked broken until its configuration is fixed "
    "and `manage.py send_test_alert` gets through"
)


def test_command_calls_a_resend_401_permanent(make_job, channels, slack_ok):
    make_job("backup", age=30 * H)
    channels.expect_request("/resend/emails").respond_with_data("invalid key", status=401)
    with pytest.raises(CommandError) as excinfo:
        call_command("run_healthcheck", stdout=StringIO())
    assert excinfo.value.returncode == 1
    assert str(excinfo.value) == (
        f"1 alert(s) could not be delivered: email: HTTP 401 (invalid key) - {PERMANENT}"
    )


def test_command_tells_permanent_from_temporary_failures(make_job, channels):
    make_job("backup", age=30 * H)
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("no_service", status=404)
    channels.expect_request("/resend/emails").respond_with_data("busy", status=503)
    with pytest.raises(CommandError) as excinfo:
        call_command("run_healthcheck", stdout=StringIO())
    assert str(excinfo.value) == (
        "1 alert(s) could not be delivered: "
        "email: HTTP 503 (busy) - temporary, retried on a later run; "
        f"slack: HTTP 404 (no_service) - {PERMANENT}"
    )


def test_command_says_when_a_temporary_failure_is_given_up(make_job, channels, slack_ok, settings):
    settings.ALERT_MAX_ATTEMPTS = 1
    make_job("backup", age=30 * H)
    channels.expect_request("/resend/emails").respond_with_data("busy", status=503)
    with pytest.raises(CommandError) as excinfo:
        call_command("run_healthcheck", stdout=StringIO())
    assert str(excinfo.value).endswith(
        "email: HTTP 503 (busy) - temporary, but not retried: ALERT_MAX_ATTEMPTS reached"
    )


@pytest.mark.parametrize(
    ("alert", "headline", "overdue"),
    [
        (JobAlert("every-5-min", "down", overdue_hours=0.25), "15 min overdue", "15 min"),
        (JobAlert("every-5-min", "down", overdue_hours=0.001), "under a minute overdue", None),
        (JobAlert("nightly", "down", overdue_hours=26.04), "26.0 h overdue", "26.0 h"),
        (JobAlert("every-5-min", "recovery", downtime_hours=0.05), "back up after 3 min", None),
        (JobAlert("nightly", "recovery", downtime_hours=27.2), "back up after 27 h", None),
    ],
)
def test_short_durations_are_shown_in_minutes(alert, headline, overdue):
    message = format_job_alert(alert)
    assert message.subject.endswith(headline) or headline in message.text.splitlines()[0]
    if overdue:
        assert f"Overdue: {overdue}" in message.text
