"""The summary page, /summary.json, /metrics and /healthz: permissions, payloads, query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from heartbeats.alerts import procedures
from heartbeats.models import Alert, AlertDelivery, ChannelStatus, CheckRun, JobHeartbeat, PingEvent
from heartbeats.templatetags import summary_format
from tests.admin_support import staff_client
from tests.conftest import T0

H = timedelta(hours=1)
TOKEN = "summary-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def summary_settings(settings):
    settings.TIME_ZONE = "UTC"
    settings.STALE_AFTER_HOURS = 24
    settings.HEALTHCHECK_SCHEDULE = "0 */6 * * *"
    settings.SUMMARY_API_TOKEN = TOKEN
    settings.METRICS_TOKEN = ""
    return settings


@pytest.fixture
def staff(client, django_user_model):
    """A staff user who may view the job list, as the summary requires."""
    user = django_user_model.objects.create_user("operator", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_jobheartbeat"))
    client.force_login(user)
    return client


@pytest.fixture
def staff_without_view(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("intern", is_staff=True))
    return client


@pytest.fixture
def member(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("member"))
    return client


@pytest.fixture
def monitored(clock, make_job):
    """At T0: two jobs (one stale, alerted and recovered), a checker run an hour ago."""
    make_job("nightly-backup", age=30 * H)
    make_job("hourly-sync", age=H / 4, last_alert_at=T0 - 2 * H)
    alert = Alert.objects.create(job_id="nightly-backup", kind="down", created_at=T0 - 3 * H)
    AlertDelivery.objects.create(alert=alert, channel="slack", state="sent", created_at=T0 - 3 * H)
    AlertDelivery.objects.create(
        alert=alert, channel="email", state="failed", last_error="401", created_at=T0 - 3 * H
    )
    PingEvent.objects.create(job_id="nightly-backup", kind="success", created_at=T0 - 2.5 * H)
    CheckRun.objects.create(
        started_at=T0 - H, finished_at=T0 - H + timedelta(seconds=2), outcome="ok",
        total_jobs=2, stale_jobs=1, alerts_sent=1, suppressed_alerts=3,
    )  # fmt: skip


def test_anonymous_is_sent_to_the_admin_login(client, db):
    response = client.get("/summary/?window=7d")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/summary/%3Fwindow%3D7d"


def test_signed_in_non_staff_is_refused(member):
    assert member.get("/summary/").status_code == 403


def test_staff_without_the_job_view_permission_is_refused_as_by_the_job_list(staff_without_view):
    assert staff_without_view.get("/admin/heartbeats/jobheartbeat/").status_code == 403
    assert staff_without_view.get("/summary/").status_code == 403
    response = staff_without_view.get("/summary.json")
    assert response.status_code == 403
    assert response.json() == {"error": "permission to view jobs required"}


def test_summary_page_shows_the_figures(staff, monitored):
    response = staff.get("/summary/")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    page = response.content.decode()
    figures = response.context["summary"]
    assert (figures.jobs.total, figures.jobs.stale, figures.jobs.alerted_24h) == (2, 1, 1)
    assert response.context["window"].name == "24h"
    assert '<td class="number" id="alerts-sent">1</td>' in page
    assert '<td class="number" id="alerts-suppressed">3</td>' in page
    assert '<td class="number" id="suppression-rate">75.0 %</td>' in page
    assert "100.0 % (1 of 1 jobs)" in page
    assert '<a href="/admin/heartbeats/jobheartbeat/nightly-backup/change/">' in page
    assert "<svg" in page and 'id="daily-table"' in page
    assert "checker-banner" not in page
    assert "False positive rate</dt>" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


@pytest.mark.parametrize(("query", "window"), [("?window=30d", "30d"), ("?window=1y", "24h")])
def test_summary_page_window_choice(staff, monitored, query, window):
    assert staff.get(f"/summary/{query}").context["window"].name == window


def test_red_banner_when_the_checker_is_overdue(staff, monitored, clock):
    clock.advance(hours=12)
    page = staff.get("/summary/").content.decode()
    assert 'id="checker-banner"' in page
    assert "missed two scheduled runs" in page


def test_red_banner_when_the_last_run_failed(staff, monitored):
    CheckRun.objects.create(started_at=T0 - H / 2, outcome="failed", error="Slack is down")
    page = staff.get("/summary/").content.decode()
    assert "The checker&#x27;s last run failed." in page
    assert "Slack is down" in page


def test_broken_channel_is_shown_on_the_page_and_in_json(staff, monitored):
    ChannelStatus.objects.create(
        channel="slack", broken_since=T0 - H, last_error="slack: HTTP 404 (no_service)"
    )
    page = staff.get("/summary/").content.decode()
    assert 'id="channel-banner-slack"' in page
    assert "Alert channel slack is broken" in page
    assert "slack: HTTP 404 (no_service)" in page
    assert staff.get("/summary.json").json()["broken_channels"] == [
        {
            "channel": "slack",
            "name": "slack",
            "broken_since": "2026-03-02T11:00:00Z",
            "error": "slack: HTTP 404 (no_service)",
        }
    ]


def test_admin_header_links_to_the_summary(staff):
    assert b'<a href="/summary/">Summary</a>' in staff.get("/admin/").content


def test_summary_json_for_staff(staff, monitored):
    response = staff.get("/summary.json")
    assert response.status_code == 200
    body = response.json()
    assert body["generated_at"] == "2026-03-02T12:00:00Z"
    assert body["jobs"] == {
        "total": 2,
        "healthy": 1,
        "stale": 1,
        "states": {"new": 0, "up": 1, "late": 0, "down": 1, "failed": 0, "running": 0, "paused": 0},
        "alerted_24h": 1,
        "most_recent_heartbeat": "2026-03-02T11:45:00Z",
        "oldest_heartbeat": "2026-03-01T06:00:00Z",
    }
    assert body["checker"]["ok"] is True
    assert body["checker"]["last_started_at"] == "2026-03-02T11:00:00Z"
    assert body["checker"]["deadline"] == "2026-03-02T18:05:00Z"
    assert body["checker"]["recent_runs"][0]["suppressed_alerts"] == 3
    assert set(body["windows"]) == {"24h", "7d", "30d"}
    assert body["windows"]["24h"] == {
        "since": "2026-03-01T12:00:00Z",
        "alerts_sent": 1,
        "alerts_suppressed": 3,
        "suppression_rate": 0.75,
        "alerted_jobs": 1,
        "recovered_jobs": 1,
        "false_positive_rate": 1.0,
        "delivery_failures": {
            "slack": {"failed": 0, "errored": 0},
            "email": {"failed": 1, "errored": 1},
        },
    }
    assert body["daily"]["days"][-1] == {"date": "2026-03-02", "alerts_sent": 1, "unique_jobs": 1}
    assert body["stale_jobs"] == [
        {
            "job_name": "nightly-backup",
            "last_run_at": "2026-03-01T06:00:00Z",
            "due_at": None,
            "overdue_seconds": 6 * 3600.0,
            "last_alert_at": None,
            "status": "healthy",
            "paused": False,
            "admin_url": "/admin/heartbeats/jobheartbeat/nightly-backup/change/",
        }
    ]


def test_summary_json_with_the_token(client, monitored):
    response = client.get("/summary.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.json()["jobs"]["total"] == 2


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong-token", 403), (f"Basic {TOKEN}", 401), ("Bearer ", 403)],
)
def test_summary_json_refuses_without_the_right_token(client, db, header, status):
    headers = {"Authorization": header} if header else {}
    response = client.get("/summary.json", headers=headers)
    assert response.status_code == status
    assert "jobs" not in response.json()


def test_summary_json_token_auth_is_off_without_a_token(client, db, settings):
    settings.SUMMARY_API_TOKEN = ""
    response = client.get("/summary.json", headers={"Authorization": "Bearer "})
    assert response.status_code == 403


def test_summary_json_refuses_non_staff(member):
    assert member.get("/summary.json").status_code == 403


def test_a_failed_job_is_counted_failed_everywhere_never_healthy(staff, monitored, make_job):
    """`beat web1.cleanup -- sh -c 'exit 3'`: not healthy, not stale, failed on the page, in
    the JSON, in /metrics and in the job list's state filter alike."""
    make_job("web1.cleanup", age=H / 2, last_outcome="fail", status="failed")
    page = staff.get("/summary/").content.decode()
    assert '<td class="number" id="job-states">1 up, 1 down, 1 failed</td>' in page
    assert 'Healthy jobs (up)</th><td class="number">1</td>' in page
    jobs = staff.get("/summary.json").json()["jobs"]
    assert (jobs["healthy"], jobs["stale"], jobs["states"]["failed"]) == (1, 1, 1)
    samples = metric_samples(scrape(staff))
    assert samples[("cronmonitor_jobs", (("state", "failed"),))] == 1
    assert samples[("cronmonitor_jobs", (("state", "up"),))] == 1
    viewer = staff_client("view_jobheartbeat", username="viewer")
    listed = viewer.get("/admin/heartbeats/jobheartbeat/?state=failed").context["cl"].result_list
    assert [job.job_name for job in listed] == ["web1.cleanup"]


def metric_samples(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_metrics_parse_back(client, monitored):
    response = client.get("/metrics")
    assert response["Content-Type"].startswith("text/plain")
    samples = metric_samples(scrape(client))
    assert samples[("cronmonitor_jobs", (("state", "down"),))] == 1
    assert samples[("cronmonitor_jobs", (("state", "up"),))] == 1
    assert samples[("cronmonitor_jobs", (("state", "failed"),))] == 0
    assert samples[("cronmonitor_stale_jobs", ())] == 1
    assert samples[("cronmonitor_alerts_sent_total", (("channel", "slack"),))] == 1
    assert samples[("cronmonitor_alerts_sent_total", (("channel", "email"),))] == 0
    assert samples[("cronmonitor_alerts_failed_total", (("channel", "email"),))] == 1
    assert samples[("cronmonitor_alerts_suppressed_total", ())] == 3
    assert samples[("cronmonitor_checker_seconds_since_last_run", ())] == 3600
    assert samples[("cronmonitor_checker_ok", ())] == 1
    key = ("cronmonitor_job_seconds_since_heartbeat", (("job", "nightly-backup"),))
    assert samples[key] == 30 * 3600


def test_a_job_that_never_ran_has_no_heartbeat_age_anywhere(client, staff, monitored, make_job):
    make_job("brand-new", age=40 * H, n_runs=0)  # created 40 h ago, never pinged
    samples = metric_samples(scrape(client))
    ages = {labels for name, labels in samples if name == "cronmonitor_job_seconds_since_heartbeat"}
    assert ages == {(("job", "nightly-backup"),), (("job", "hourly-sync"),)}
    body = staff.get("/summary.json").json()
    assert body["jobs"]["oldest_heartbeat"] == "2026-03-01T06:00:00Z"  # not its creation
    (never,) = [job for job in body["stale_jobs"] if job["job_name"] == "brand-new"]
    assert never["last_run_at"] is None
    page = staff.get("/summary/").content.decode()
    assert ">brand-new</a></td>\n        <td>never</td>" in page


def test_metrics_without_any_checker_run(client, db):
    samples = metric_samples(scrape(client))
    assert samples[("cronmonitor_checker_ok", ())] == 0
    assert ("cronmonitor_checker_seconds_since_last_run", ()) not in samples


@pytest.mark.parametrize(
    ("header", "status"), [(None, 401), ("Bearer nope", 403), ("Bearer metrics-secret", 200)]
)
def test_metrics_token(client, db, settings, header, status):
    settings.METRICS_TOKEN = "metrics-secret"
    headers = {"Authorization": header} if header else {}
    assert client.get("/metrics", headers=headers).status_code == status


def test_healthz_ok_when_the_checker_ran_recently(client, monitored):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checker_last_started_at": "2026-03-02T11:00:00Z",
        "checker_last_outcome": "ok",
        "checker_deadline": "2026-03-02T18:05:00Z",
        "alerts_silenced_until": None,
    }
    assert b"nightly-backup" not in response.content


def test_an_active_silence_shows_on_the_page_in_json_and_healthz_which_stays_up(staff, monitored):
    procedures.silence_all(now=T0, until=T0 + 3 * H)
    page = staff.get("/summary/").content.decode()
    assert "<strong>Alerts silenced until 15:00 UTC (2026-03-02, in 3 h).</strong>" in page
    assert staff.get("/summary.json").json()["alerts_silenced_until"] == "2026-03-02T15:00:00Z"
    response = staff.get("/healthz")
    assert response.status_code == 200
    assert response.json()["alerts_silenced_until"] == "2026-03-02T15:00:00Z"


def test_no_silence_banner_or_end_once_it_is_over(staff, monitored):
    procedures.silence_all(now=T0 - 4 * H, until=T0 - H)
    assert 'id="silence-banner"' not in staff.get("/summary/").content.decode()
    assert staff.get("/summary.json").json()["alerts_silenced_until"] is None


def test_healthz_fails_when_the_checker_is_overdue(client, monitored, clock):
    clock.set(T0 + 6 * H + timedelta(minutes=6))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert "missed two scheduled runs" in response.json()["reason"]


def test_healthz_fails_when_the_checker_never_ran(client, clock, make_job):
    make_job("nightly-backup")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["reason"] == "The checker has never run."
    assert b"nightly-backup" not in response.content


def test_healthz_stays_up_after_one_failed_run(client, clock, db):
    CheckRun.objects.create(started_at=T0 - H, outcome="failed", error="job secret-job broke")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checker_last_outcome"] == "failed"
    assert b"secret-job" not in response.content


def test_healthz_is_503_when_the_database_fails(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(CursorWrapper, "execute", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "reason": "database unavailable"}


def populate(count: int) -> None:
    """`count` stale jobs with a sent alert, a failed delivery and a ping each, and runs."""
    jobs = JobHeartbeat.objects.bulk_create(
        JobHeartbeat(job_name=f"job-{i:04}", last_run_at=T0 - (25 + i % 40) * H, n_runs=1)
        for i in range(count)
    )
    alerts = Alert.objects.bulk_create(
        Alert(job=job, kind="down", created_at=T0 - (i % 48) * H, done=True)
        for i, job in enumerate(jobs)
    )
    AlertDelivery.objects.bulk_create(
        AlertDelivery(alert=a, channel=c, state=s, created_at=a.created_at)
        for a in alerts
        for c, s in (("slack", "sent"), ("email", "failed"))
    )
    PingEvent.objects.bulk_create(
        PingEvent(job=a.job, kind="success", created_at=a.created_at + H / 2) for a in alerts
    )
    CheckRun.objects.bulk_create(
        CheckRun(started_at=T0 - i * H, outcome="ok", suppressed_alerts=1) for i in range(count)
    )


@pytest.mark.parametrize(
    ("url", "auth"),
    [
        ("/summary/", {}),
        ("/summary/?window=30d", {}),
        ("/summary.json", {"Authorization": f"Bearer {TOKEN}"}),
        ("/metrics", {}),
        ("/healthz", {}),
    ],
)
def test_query_count_is_the_same_for_10_and_1000(staff, clock, url, auth):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = staff.get(url, headers=auth)
            assert response.status_code == 200
            if response.streaming:
                b"".join(response.streaming_content)
        return len(captured)

    populate(10)
    few = count()
    JobHeartbeat.objects.all().delete()
    CheckRun.objects.all().delete()
    populate(1000)
    assert count() == few


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (None, "\u2013"),
        (timedelta(seconds=59), "59 s"),
        (timedelta(hours=6), "6 h"),
        (timedelta(hours=3, minutes=20, seconds=30), "3 h 20 min"),
        (timedelta(days=2, hours=3, minutes=4), "2 d 3 h"),
    ],
)
def test_span_format(delta, text):
    assert summary_format.span(delta) == text


@pytest.mark.parametrize(("rate", "text"), [(None, "\u2013"), (0.0, "0.0 %"), (2 / 3, "66.7 %")])
def test_percent_format(rate, text):
    assert summary_format.percent(rate) == text
