"""The job page shows what its pings said and who sent them; the admin reads as cronmonitor,
with one date format, durations in words and one next-runs column for a UTC job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from heartbeats.models import Alert, AlertDelivery, EventKind, PingEvent
from tests.admin_support import staff_client
from tests.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(clock):
    return staff_client("view_jobheartbeat", "view_alert", "view_alertdelivery")


def job_page(client, job) -> str:
    return client.get(
        reverse("admin:heartbeats_jobheartbeat_change", args=[job.pk])
    ).content.decode()


def pings_table(page: str) -> str:
    return page[page.index('class="cm-events"') :].split("</table>")[0]


def test_each_ping_shows_its_body_sender_method_and_user_agent(viewer, make_job):
    job = make_job("backup", age=timedelta(hours=1), last_duration=timedelta(microseconds=13104))
    PingEvent.objects.create(
        job=job, created_at=T0 - timedelta(minutes=2), kind=EventKind.LOG, body="disk 91% full",
        remote_addr="203.0.113.9", method="POST", user_agent="curl/8.5.0",
    )  # fmt: skip
    output = "\n".join(f"line {n}: <copying>" for n in range(40)) + "\nERROR: disk full"
    PingEvent.objects.create(
        job=job, created_at=T0 - timedelta(minutes=1), kind=EventKind.FAIL, exit_status=1,
        duration=timedelta(seconds=125), body=output, host="web1.example.com",
    )  # fmt: skip
    page = job_page(viewer, job)
    table = pings_table(page)
    assert "<td>203.0.113.9</td><td>POST</td><td>curl/8.5.0</td>" in table
    assert '">disk 91% full</pre>' in table
    assert "<td>2 min 5 s</td><td>web1.example.com</td><td>-</td><td>-</td>" in table
    # the long output: its first line in the summary, the whole text (escaped) one click away
    assert "<summary>line 0: &lt;copying&gt; … <small>(41 lines, " in table
    assert "line 39: &lt;copying&gt;\nERROR: disk full</pre></details>" in table
    assert "From -" not in page and "<td>13 ms</td>" not in table
    assert '<div class="readonly">13 ms</div>' in page


def test_a_utc_job_has_one_next_runs_column_another_zone_two(viewer, make_job):
    utc = make_job("utc-job", age=timedelta(hours=1), cron="0 2 * * *", tz="UTC")
    berlin = make_job("berlin-job", age=timedelta(hours=1), cron="0 2 * * *", tz="Europe/Berlin")
    upcoming = job_page(viewer, utc).split('class="cm-upcoming"')[1].split("</table>")[0]
    assert "<thead><tr><th>UTC</th></tr></thead>" in upcoming
    assert "<tr><td>2026-03-03 02:00 UTC</td></tr>" in upcoming
    upcoming = job_page(viewer, berlin).split('class="cm-upcoming"')[1].split("</table>")[0]
    assert "<th>UTC</th><th>Europe/Berlin</th>" in upcoming


def test_the_admin_is_branded_and_view_site_leads_to_the_summary(viewer):
    page = viewer.get(reverse("admin:index")).content.decode()
    assert "Django administration" not in page
    assert '<a href="/admin/">cronmonitor</a>' in page
    assert '<a href="/summary/">View site</a>' in page


def test_the_alert_lists_write_dates_as_the_job_list_does(viewer, make_job):
    make_job("backup")
    alert = Alert.objects.create(job_id="backup", kind="down", created_at=T0 - timedelta(hours=3))
    AlertDelivery.objects.create(
        alert=alert, channel="slack", state="sent", created_at=T0 - timedelta(hours=3),
        sent_at=T0 - timedelta(minutes=179),
    )  # fmt: skip
    alerts = viewer.get(reverse("admin:heartbeats_alert_changelist")).content.decode()
    assert "2026-03-02 09:00 UTC, 3 h ago" in alerts
    assert "p.m." not in alerts and "a.m." not in alerts
    deliveries = viewer.get(reverse("admin:heartbeats_alertdelivery_changelist")).content.decode()
    assert "2026-03-02 09:01 UTC, 2 h ago" in deliveries
    detail = viewer.get(reverse("admin:heartbeats_alert_change", args=[alert.pk])).content.decode()
    assert "2026-03-02 09:00 UTC" in detail and "a.m." not in detail
