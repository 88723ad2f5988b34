"""What alert messages say: Slack shows hostile job input literally, a "back up" message says
when the job was last alerted, and the checker's error tells permanent failures from
temporary ones."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from heartbeats.alerts import check_run
from heartbeats.alerts.messages import (
    JobAlert,
    digest_headline,
    format_digest,
    format_job_alert,
    format_notice,
)
from heartbeats.domain.links import job_admin_url
from heartbeats.models import PingEvent
from heartbeats.signals import recording
from tests.conftest import SLACK_SECRET_PATH, T0, received

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
HOSTILE_OUTPUT = "x <!channel> <https://evil.example|click> & co\n```\n<script>"
HOSTILE_NAME = "inj<!channel>"
HOSTILE_STATUS = "<!here>"


def run(**kwargs) -> check_run.CheckResult:
    kwargs.setdefault("now", T0)
    return check_run.run_check(sleep=lambda seconds: None, **kwargs)


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
    url = job_admin_url(HOSTILE_NAME)
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


@pytest.mark.parametrize(
    "message",
    [
        lambda: format_digest([JobAlert(HOSTILE_NAME, "failed"), JobAlert("b", "down")]),
        lambda: format_notice(HOSTILE_NAME, HOSTILE_OUTPUT),
    ],
    ids=["digest", "notice"],
)
def test_digest_and_notice_keep_text_literal_and_escape_html_once(message):
    """As a job alert's email does (above): each message has its own two templates."""
    sent = message()
    assert HOSTILE_NAME in sent.text and "&lt;" not in sent.text
    assert "inj&lt;!channel&gt;" in sent.html
    assert "<!channel>" not in sent.html and "&amp;lt;" not in sent.html


def test_digest_links_stay_links_with_escaped_labels(make_job, slack_ok, email_ok, settings):
    settings.ALERT_DIGEST_THRESHOLD = 1
    hostile_failed_job(make_job, "a<!channel>")
    hostile_failed_job(make_job, "b>|<https://evil.example")
    run()
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    body = request.get_json()
    assert slack_markup(body["text"]) == []
    assert slack_markup(body["blocks"][1]["text"]["text"]) == [
        f"<{job_admin_url('a<!channel>')}|a&lt;!channel&gt; FAILED>",
        f"<{job_admin_url('b>|<https://evil.example')}|b&gt;|&lt;https://evil.example FAILED>",
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
        (JobAlert("every-5-min", "down", overdue_hours=0.001), "3.6 s overdue", None),
        (JobAlert("nightly", "down", overdue_hours=26.04), "1 d 2 h overdue", "1 d 2 h"),
        (JobAlert("every-5-min", "recovery", downtime_hours=0.05), "back up after 3 min", None),
        (JobAlert("nightly", "recovery", downtime_hours=27.2), "back up after 1 d 3 h", None),
    ],
)
def test_durations_read_as_everywhere_else(alert, headline, overdue):
    """timefmt's words, not "26.0 h" or "0.0 s"."""
    message = format_job_alert(alert)
    assert message.subject.endswith(headline)
    if overdue:
        assert f"Overdue: {overdue}" in message.text


# --- what a message says, read when it is sent ------------------------------------------------


def slack_texts(slack) -> list[str]:
    return [r.get_json()["text"] for r in received(slack, SLACK_SECRET_PATH)]


def test_a_killed_run_says_its_signal_host_duration_and_output(make_job, slack_ok, email_ok, clock):
    rid = uuid.uuid4()
    recording.record_signal(job_name="web1", kind="start", rid=rid, now=T0 - 2 * H)
    recording.record_signal(job_name="web1", now=T0 - H)
    clock.advance(minutes=1)
    recording.record_signal(job_name="web1", kind="start", rid=rid, now=clock.now())
    clock.advance(seconds=83)
    recording.record_signal(
        job_name="web1", kind="fail", rid=rid, exit_status=137, now=clock.now(),
        body="step 1 ok\n" + "x" * 2000 + "\nKilled <&>", remote_addr="10.0.0.7",
    )  # fmt: skip
    run(now=clock.now())
    (text,) = slack_texts(slack_ok)
    lines = text.splitlines()
    assert lines[:2] == ["web1 FAILED", "Job: web1"]
    assert "State: failed: its last run reported a failure" in lines
    assert "Exit status: 137 (killed by signal 9, SIGKILL)" in lines
    assert "Reported from: 10.0.0.7" in lines
    assert "Run duration: 1 min 23 s" in lines
    assert "Last successful run: 2026-03-02 11:00 UTC" in lines
    assert "Reported status: failed" in lines
    assert "Details: https://cron.example.com/admin/heartbeats/jobheartbeat/web1/change/" in lines
    output = text.split("Output (last lines):\n", 1)[1]
    assert output.endswith("Killed &lt;&amp;&gt;") and len(output) < 1100
    assert "step 1 ok" not in output


def test_a_plain_exit_status_and_a_short_run_read_plainly(make_job, slack_ok, email_ok, clock):
    rid = uuid.uuid4()
    recording.record_signal(job_name="web1", kind="start", rid=rid, now=clock.now())
    clock.advance(seconds=0.013)
    recording.record_signal(job_name="web1", kind="fail", rid=rid, exit_status=3, now=clock.now())
    run(now=clock.now())
    (slack,) = slack_texts(slack_ok)
    (email,) = [r.get_json()["text"] for r in received(email_ok, "/resend/emails")]
    for text in (slack, email):
        lines = text.splitlines()
        assert "Exit status: 3" in lines
        assert "Run duration: 13 ms" in lines


def test_a_job_that_never_ran_says_never_and_a_hung_run_its_times(slack_ok, email_ok, clock):
    recording.record_signal(job_name="import", kind="start", now=clock.now())
    clock.advance(minutes=90)
    run(now=clock.now())
    (text,) = slack_texts(slack_ok)
    lines = text.splitlines()
    assert lines[0] == "import started but has not finished"
    assert "Running for: 1 h 30 min (started 2026-03-02 12:00 UTC)" in lines
    assert "Should have finished by: 2026-03-02 13:00 UTC" in lines
    assert "Last run: never" in lines and "Last successful run: never" in lines
    assert not any(line.startswith("Status:") for line in lines)


def test_a_down_alert_says_when_it_was_due_and_never_status_healthy(
    make_job, slack_ok, email_ok, clock
):
    make_job("hourly", age=3 * H, period=H, grace=H / 2, due_at=T0 - 90 * timedelta(minutes=1))
    run(now=clock.now())
    (text,) = slack_texts(slack_ok)
    lines = text.splitlines()
    assert lines[0] == "hourly is DOWN: no heartbeat, 1 h 30 min overdue"
    assert "Expected by: 2026-03-02 10:30 UTC" in lines
    assert "Schedule: every 1 h, 30 min grace" in lines
    assert "Reported status: healthy" in lines
    assert "Status: healthy" not in lines and "State: down: no heartbeat by its due time" in lines


def test_a_job_that_never_ran_has_no_reported_status_in_slack_or_email(
    make_job, slack_ok, email_ok, clock
):
    make_job("nightly", age=30 * H, n_runs=0)  # its status is the column's default
    run(now=clock.now())
    (slack,) = slack_texts(slack_ok)
    (email,) = [r.get_json() for r in received(email_ok, "/resend/emails")]
    assert "Last run: never" in slack.splitlines()
    for text in (slack, email["text"], email["html"], json.dumps(received_blocks(slack_ok))):
        assert "Reported status" not in text


def received_blocks(slack) -> list:
    return [r.get_json()["blocks"] for r in received(slack, SLACK_SECRET_PATH)]


def test_a_cron_schedule_reads_in_words_beside_its_expression(make_job, slack_ok, email_ok, clock):
    make_job(
        "nightly", age=30 * H, cron="0 2 * * 1-5", tz="Europe/Berlin", grace=H / 2,
        due_at=T0 - 8 * H,
    )  # fmt: skip
    run(now=clock.now())
    (slack,) = slack_texts(slack_ok)
    (email,) = [r.get_json()["text"] for r in received(email_ok, "/resend/emails")]
    schedule = (
        "Schedule: at 02:00, Monday through Friday (Europe/Berlin, cron '0 2 * * 1-5'), "
        "30 min grace"
    )
    assert schedule in slack.splitlines()
    assert schedule in email.splitlines()


def test_a_retried_alert_says_how_overdue_the_job_is_when_sent(
    make_job, channels, email_ok, clock, six_hourly_checker
):
    """Three hours between passes: no checker-gap notice with the 6-hourly schedule."""
    make_job("nightly", age=26 * H)
    channels.expect_oneshot_request(SLACK_SECRET_PATH).respond_with_data("busy", status=503)
    run(now=clock.now())
    channels.expect_request(SLACK_SECRET_PATH).respond_with_data("ok")
    clock.advance(hours=3)
    run(now=clock.now())
    first, retried = slack_texts(channels)
    assert first.startswith("nightly is DOWN: no heartbeat, 2 h overdue")
    assert retried.startswith("nightly is DOWN: no heartbeat, 5 h overdue")


def test_a_digest_heading_says_what_it_holds(make_job, slack_ok, email_ok, clock, settings):
    settings.ALERT_DIGEST_THRESHOLD = 2
    for name in ("a", "b", "c"):
        make_job(name, age=30 * H)
    for name in ("d", "e"):
        make_job(name, age=H, alerted=True, last_alert_at=T0 - 2 * H)
    run(now=clock.now())
    (text,) = slack_texts(slack_ok)
    assert text.splitlines()[0] == "3 jobs down, 2 back up"
    (email,) = received(slack_ok, "/resend/emails")
    assert email.get_json()["subject"] == "[cronmonitor] 3 jobs down, 2 back up"


@pytest.mark.parametrize(
    ("kinds", "heading"),
    [(["recovery"], "1 job back up"), (["failed", "down", "down"], "2 jobs down, 1 failed")],
)
def test_digest_headline_counts_each_kind(kinds, heading):
    assert digest_headline([JobAlert("j", kind) for kind in kinds]) == heading
