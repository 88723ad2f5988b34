"""The jobs change list (columns, filters, search, order, speed) and the job change form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from heartbeats.models import (
    Alert,
    AlertDelivery,
    CheckRun,
    EventKind,
    JobHeartbeat,
    PingEvent,
)
from tests.admin_support import (
    CHANGELIST,
    as_shown,
    change_url,
    changelist_names,
    runbook_jobs,
    staff_client,
)
from tests.conftest import T0

ALL_JOBS = {"fresh", "never", "suppressed", "should", "old-alert", "failing", "paused"}


@pytest.fixture
def viewer(db, clock, make_job):
    runbook_jobs(make_job, T0)
    return staff_client("view_jobheartbeat", "view_alert", "view_alertdelivery")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL_JOBS),
        ("?health=stale", {"never", "suppressed", "should", "old-alert", "paused"}),
        ("?health=healthy", {"fresh", "failing"}),
        ("?alert_state=healthy", {"fresh", "paused"}),
        ("?alert_state=never_alerted", {"never", "failing"}),
        ("?alert_state=suppressed", {"suppressed"}),
        ("?alert_state=should_alert", {"should", "old-alert"}),
        ("?last_alert=suppressing", {"suppressed"}),
        ("?last_alert=48h", {"suppressed", "should"}),
        ("?last_alert=never", {"fresh", "never", "failing", "paused"}),
        ("?status=failed", {"failing"}),
        ("?status=maintenance", {"paused"}),
        ("?status=healthy", {"fresh", "never", "suppressed", "should", "old-alert"}),
        ("?paused__exact=1", {"paused"}),
        ("?paused__exact=0", ALL_JOBS - {"paused"}),
        ("?health=stale&alert_state=should_alert", {"should", "old-alert"}),
        ("?q=sho", {"should"}),
    ],
)
def test_every_filter_value_selects_the_runbook_rows(viewer, query, expected):
    assert set(changelist_names(viewer, query)) == expected


def test_filters_follow_the_configured_thresholds(viewer, settings):
    settings.STALE_AFTER_HOURS = 60
    settings.ALERT_SUPPRESSION_HOURS = 12
    assert set(changelist_names(viewer, "?health=stale")) == {"old-alert"}
    assert set(changelist_names(viewer, "?alert_state=suppressed")) == set()
    assert set(changelist_names(viewer, "?last_alert=suppressing")) == {"suppressed", "should"}
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "Suppressed (same incident, &lt; 12 h since last alert)" in page


def test_default_order_is_oldest_heartbeat_first(viewer):
    names = changelist_names(viewer)
    assert names[:2] == ["old-alert", "should"]
    assert names[-2:] == ["failing", "fresh"]


def test_alert_state_column_can_be_sorted(viewer):
    columns = viewer.get(reverse(CHANGELIST)).context["cl"].list_display
    index = columns.index("alert_state_badge")
    names = changelist_names(viewer, f"?o={index}")
    assert names[:2] == ["fresh", "paused"] or names[:2] == ["paused", "fresh"]


def row_of(page: str, name: str) -> str:
    return page[page.index(f">{name}<") :].split("</tr>")[0]


def test_columns_show_age_overdue_last_alert_and_a_coloured_badge(viewer):
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    row = row_of(page, "should")
    assert "2026-02-28 10:00 UTC, 2 d ago" in row
    assert '<small class="cm-note">1 d 2 h overdue</small>' in row
    assert "2026-03-02 02:00 UTC, 10 h ago" in row
    assert 'class="cm-badge" style="background:#ad1457' in row
    assert "Should alert (&gt;= 6 h since last alert)" in row
    assert '<td class="field-reported_status">healthy</td>' in row
    fresh = row_of(page, "fresh")
    assert "overdue" not in fresh and "cm-badge" not in fresh
    assert '<span class="cm-plain">up</span>' in fresh
    assert '<td class="field-last_alert">Never</td>' in fresh
    assert '<span class="cm-plain">Healthy</span>' in fresh


def test_a_job_that_never_ran_shows_no_reported_status(viewer, make_job):
    make_job("brand-new", n_runs=0)
    row = row_of(viewer.get(reverse(CHANGELIST)).content.decode(), "brand-new")
    assert '<td class="field-reported_status">\u2013</td>' in row


def test_only_problems_are_in_colour_and_no_column_is_a_boolean_icon(viewer):
    """Every unpaused job used to carry a red ✖ (the paused column): paused is a state now."""
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    table = page[page.index('id="result_list"') :].split("</table>")[0]
    assert "icon-no.svg" not in table and "icon-yes.svg" not in table
    coloured = {
        name for name in ALL_JOBS if "cm-badge" in row_of(page, name).split("field-state")[1]
    }
    assert coloured == {"never", "suppressed", "should", "old-alert", "failing"}


def test_a_failed_run_is_the_state_and_the_reported_status_is_plain_text(viewer, make_job):
    """`beat J --status failed` is up with status "failed"; a failed run is failed."""
    make_job("says-failed", age=timedelta(hours=1), status="failed")
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    says = row_of(page, "says-failed")
    assert '<span class="cm-plain">up</span>' in says
    assert '<td class="field-reported_status">failed</td>' in says
    assert ">failed</span>" in row_of(page, "failing")
    assert "<th" in page and ">reported status<" in page.lower()


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("up", {"fresh"}),
        ("down", {"never", "suppressed", "should", "old-alert"}),
        ("failed", {"failing"}),
        ("paused", {"paused"}),
        ("late", set()),
        ("new", set()),
        ("running", set()),
    ],
)
def test_the_state_filter_has_every_state(viewer, state, expected):
    assert set(changelist_names(viewer, f"?state={state}")) == expected


def test_the_runbook_stale_filter_says_what_it_means(viewer):
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "runbook staleness (heartbeat age only)" in page
    assert "Stale: no heartbeat in time (paused included)" in page


def test_a_job_held_back_by_an_outage_grace_says_until_when(viewer, clock):
    CheckRun.objects.create(
        started_at=T0 - timedelta(minutes=5), grace_until=T0 + timedelta(minutes=25)
    )
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    never = row_of(page, "never")
    assert '<small class="cm-note">deferred: outage grace until 12:25 UTC</small>' in never
    assert '<span class="cm-plain">Deferred (outage grace)</span>' in never
    assert "deferred" not in row_of(page, "suppressed")  # alerted already: not held back
    assert "deferred" not in row_of(page, "failing")  # failures are not deferred
    clock.advance(minutes=26)
    assert "deferred" not in viewer.get(reverse(CHANGELIST)).content.decode()


def test_a_hung_job_is_down_and_says_how_long_it_has_run(viewer, make_job):
    make_job("hung", age=timedelta(hours=5), last_start_at=T0 - timedelta(hours=3),
             run_deadline=T0 - timedelta(hours=2))  # fmt: skip
    row = row_of(viewer.get(reverse(CHANGELIST)).content.decode(), "hung")
    assert ">down</span>" in row
    assert '<small class="cm-note">running 3 h, due to finish by 10:00 UTC</small>' in row


def test_timestamps_are_shown_in_the_operators_time_zone(viewer, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "2026-02-28 11:00 CET, 2 d ago" in page


def test_changelist_query_count_does_not_grow_with_the_number_of_jobs(db, clock):
    client = staff_client("view_jobheartbeat")

    def queries_for(count: int) -> int:
        JobHeartbeat.objects.all().delete()
        JobHeartbeat.objects.bulk_create(
            JobHeartbeat(job_name=f"job-{i:05}", last_run_at=T0 - timedelta(minutes=i))
            for i in range(count)
        )
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse(CHANGELIST) + "?health=stale")
        assert response.status_code == 200
        return len(captured)

    assert queries_for(10) == queries_for(1000)


def test_view_only_user_sees_no_action_buttons(viewer):
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "Run health check now" not in page
    assert "Silence all alerts…" not in page
    assert "Configuration" in page


def test_user_without_view_permission_is_refused(db, clock):
    client = staff_client()
    assert client.get(reverse(CHANGELIST)).status_code == 403


# --- the change form -------------------------------------------------------------------------


@pytest.fixture
def editor(db, clock, make_job, settings):
    settings.SITE_URL = "https://cron.example.com"
    job = make_job("backup", age=timedelta(hours=3), metadata={"rows": 42, "db": {"size": 7}})
    for minutes in range(25):
        PingEvent.objects.create(
            job=job,
            created_at=T0 - timedelta(minutes=minutes),
            kind=EventKind.SUCCESS,
            duration=timedelta(seconds=minutes + 0.5),
        )
    client = staff_client(
        "view_jobheartbeat", "add_jobheartbeat", "change_jobheartbeat", "view_alert"
    )
    return client, job


def form_data(**changes) -> dict:
    data = {"status": "healthy", "period": "", "cron": "", "tz": "UTC", "grace": ""}
    return {**data, **changes}


def test_change_form_shows_uuid_ping_urls_examples_and_pretty_metadata(editor):
    client, job = editor
    page = client.get(change_url(job)).content.decode()
    assert str(job.uuid) in page
    assert f"https://cron.example.com/ping/{job.uuid}" in page
    assert "https://cron.example.com/ping/&lt;ping-key&gt;/backup" in page
    assert (
        f"curl -fsS -m 10 --retry 5 -o /dev/null https://cron.example.com/ping/{job.uuid}" in page
    )
    assert "0 2 * * * /usr/local/bin/your-job.sh &amp;&amp; curl" in page
    assert "<pre>{\n  &quot;db&quot;: {\n    &quot;size&quot;: 7\n  }," in page
    assert "default: stale after 1 d without a heartbeat" in page
    assert f"?job__exact={job.pk}" in page


def test_a_job_that_never_reported_says_so(editor, make_job):
    client, _ = editor
    job = make_job("added-by-hand", n_runs=0)
    page = client.get(change_url(job)).content.decode()
    assert "Never (created 2026-03-02 12:00 UTC)" in page
    assert "Success" not in page
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert "Never (created 2026-03-02 12:00 UTC)" in listing


def test_change_form_never_shows_a_real_ping_key(editor, settings):
    settings.PING_KEYS = ["real-secret-ping-key"]
    client, job = editor
    assert "real-secret-ping-key" not in client.get(change_url(job)).content.decode()


def test_change_form_lists_the_last_20_pings_with_durations(editor):
    client, job = editor
    page = client.get(change_url(job)).content.decode()
    table = page[page.index('class="cm-events"') :].split("</table>")[0]
    assert table.count("<tr>") == 21
    assert "<td>500 ms</td>" in table and "<td>20 s</td>" in table and "<td>21 s</td>" not in table


def test_saving_a_cron_schedule_recomputes_due_at_and_shows_upcoming_runs(editor):
    client, job = editor
    data = as_shown(client, job, cron="0 2 * * *", tz="Europe/Berlin", grace="00:30:00")
    response = client.post(change_url(job), data)
    assert response.status_code == 302
    job.refresh_from_db()
    # last run 09:00 UTC = 10:00 CET; next 02:00 CET is 01:00 UTC the next day, plus grace.
    assert job.due_at == datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
    page = client.get(change_url(job)).content.decode()
    assert "at 02:00 (Europe/Berlin, cron &#x27;0 2 * * *&#x27;), 30 min grace" in page
    assert "<td>2026-03-03 01:00 UTC</td><td>2026-03-03 02:00 CET</td>" in page
    upcoming = page[page.index('class="cm-upcoming"') :].split("</table>")[0]
    assert upcoming.count("<tr><td>") == 5


def test_saving_a_period_schedule_recomputes_due_at(editor):
    client, job = editor
    client.post(change_url(job), as_shown(client, job, period="06:00:00", grace="00:10:00"))
    job.refresh_from_db()
    assert job.due_at == job.last_run_at + timedelta(hours=6, minutes=10)
    client.post(change_url(job), as_shown(client, job, period="", grace=""))
    job.refresh_from_db()
    assert job.due_at is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"cron": "61 * * * *"}, "Invalid schedule: invalid cron expression"),
        ({"cron": "0 2 * * *", "tz": "Mars/Olympus"}, "Invalid schedule: unknown time zone"),
        ({"cron": "0 2 * * *", "period": "01:00:00"}, "give either a period or a cron"),
        ({"period": "00:00:00"}, "The period must be positive"),
        ({"period": "400 00:00:00"}, "The period must be at most 366 days"),
        ({"grace": "-1 00:00:00"}, "The grace time must be 0 or more"),
    ],
)
def test_an_invalid_schedule_is_a_form_error(editor, changes, error):
    client, job = editor
    response = client.post(change_url(job), form_data(**changes))
    assert response.status_code == 200
    assert error in str(response.context["adminform"].form.errors)
    job.refresh_from_db()
    assert (job.cron, job.period, job.due_at) == ("", None, None)


def test_a_job_can_be_added_with_a_schedule(editor):
    client, _ = editor
    data = {**form_data(period="01:00:00"), "job_name": "hourly-export"}
    response = client.post(reverse("admin:heartbeats_jobheartbeat_add"), data)
    assert response.status_code == 302
    job = JobHeartbeat.objects.get(pk="hourly-export")
    assert job.due_at == T0 + timedelta(hours=2)


# --- alert history ---------------------------------------------------------------------------


@pytest.fixture
def alerts(viewer):
    older = Alert.objects.create(job_id="never", kind="down", created_at=T0 - timedelta(days=10))
    newer = Alert.objects.create(job_id="should", kind="down", created_at=T0 - timedelta(hours=1))
    AlertDelivery.objects.create(alert=older, channel="slack", state="sent")
    AlertDelivery.objects.create(alert=older, channel="email", state="failed", last_error="boom")
    AlertDelivery.objects.create(alert=newer, channel="email", state="sent")
    return viewer, older, newer


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"older", "newer"}),
        ("?deliveries__channel=slack", {"older"}),
        ("?deliveries__channel=email", {"older", "newer"}),
        ("?deliveries__state=failed", {"older"}),
        ("?deliveries__state=sent", {"older", "newer"}),
        ("?job__exact=should", {"newer"}),
        ("?kind__exact=down", {"older", "newer"}),
    ],
)
def test_alert_history_filters(alerts, query, expected):
    client, older, newer = alerts
    response = client.get(reverse("admin:heartbeats_alert_changelist") + query)
    shown = {alert.pk for alert in response.context["cl"].result_list}
    assert shown == {{"older": older, "newer": newer}[name].pk for name in expected}


def test_alert_history_date_filter(alerts):
    client, _, newer = alerts
    since = urlencode({"created_at__gte": str(T0 - timedelta(days=7))})
    url = reverse("admin:heartbeats_alert_changelist") + f"?{since}"
    assert [a.pk for a in client.get(url).context["cl"].result_list] == [newer.pk]


@pytest.mark.parametrize(
    ("query", "count"),
    [("", 3), ("?channel__exact=email", 2), ("?state__exact=failed", 1)],
)
def test_delivery_history_filters(alerts, query, count):
    client, *_ = alerts
    response = client.get(reverse("admin:heartbeats_alertdelivery_changelist") + query)
    assert response.context["cl"].result_count == count


def test_alert_history_is_read_only(alerts):
    client, older, _ = alerts
    assert client.get(reverse("admin:heartbeats_alert_add")).status_code == 403
    page = client.get(reverse("admin:heartbeats_alert_change", args=[older.pk])).content
    assert b'type="submit"' not in page.split(b'id="content"')[1]


def test_state_column_follows_each_jobs_schedule(viewer, make_job):
    make_job("every-5-min", age=timedelta(minutes=4), period=timedelta(minutes=5),
             grace=timedelta(minutes=2), due_at=T0 + timedelta(minutes=3))  # fmt: skip
    make_job("late-one", age=timedelta(minutes=6), period=timedelta(minutes=5),
             grace=timedelta(minutes=2), due_at=T0 + timedelta(minutes=1))  # fmt: skip
    make_job("down-one", age=timedelta(minutes=8), period=timedelta(minutes=5),
             grace=timedelta(minutes=2), due_at=T0 - timedelta(minutes=1))  # fmt: skip
    page = viewer.get(reverse(CHANGELIST)).content.decode()

    def state(name: str) -> str:
        row = page[page.index(f">{name}<") :].split("</tr>")[0]
        cell = row.split('class="field-state"')[1]
        return cell.split("</span>")[0].rsplit(">", 1)[1]

    assert [state(n) for n in ("every-5-min", "late-one", "down-one", "failing", "paused")] == [
        "up", "late", "down", "failed", "paused",
    ]  # fmt: skip


def test_links_to_a_job_survive_the_admins_own_escaping(viewer, make_job):
    """The admin reads "_24" in an object id as an escape: links must quote names for it."""
    from heartbeats.domain.links import job_admin_path

    make_job("cleanup_24h")
    assert viewer.get(job_admin_path("cleanup_24h")).status_code == 200
