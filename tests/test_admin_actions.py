"""The runbook's procedures in the admin: actions, confirmation pages, permissions, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from heartbeats.alerts import procedures
from heartbeats.models import Alert, CheckRun, JobHeartbeat, MaintenanceWindow
from tests.admin_support import CHANGELIST, runbook_jobs, staff_client
from tests.conftest import SLACK_SECRET_PATH, T0, received

VIEW = "view_jobheartbeat"
CHANGE_PERM = "change_jobheartbeat"
SILENCE = "silence_all_alerts"
RECOVER = "bulk_recover_jobs"


@pytest.fixture
def jobs(db, clock, make_job):
    runbook_jobs(make_job, T0)


def run_action(client, action: str, names: list[str]):
    data = {"action": action, "_selected_action": names, "index": 0}
    return client.post(reverse(CHANGELIST), data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def last_alerts() -> dict[str, object]:
    return dict(JobHeartbeat.objects.values_list("job_name", "last_alert_at"))


def history(object_id: str | None = None) -> list[str]:
    entries = LogEntry.objects.filter(object_id=object_id, action_flag=CHANGE)
    return [entry.change_message for entry in entries.order_by("action_time", "pk")]


def all_jobs() -> list[JobHeartbeat]:
    return list(JobHeartbeat.objects.order_by("pk"))


def action_choices(client) -> set[str]:
    form = client.get(reverse(CHANGELIST)).context["action_form"]
    return set() if form is None else {name for name, _ in form.fields["action"].choices if name}


def test_a_plain_staff_user_gets_only_the_change_actions(jobs):
    changer = staff_client(VIEW, CHANGE_PERM, username="changer")
    assert action_choices(changer) == {
        "reset_alert_timestamp",
        "force_alert",
        "pause_jobs",
        "resume_jobs",
    }
    viewer = staff_client(VIEW, username="viewer")
    assert action_choices(viewer) == set()
    operator = staff_client(VIEW, CHANGE_PERM, SILENCE, RECOVER)
    assert {"silence_all_alerts", "bulk_recover_stale"} <= action_choices(operator)


def test_reset_alert_timestamp_clears_the_selected_jobs_and_logs_each(jobs):
    client = staff_client(VIEW, CHANGE_PERM)
    response = run_action(client, "reset_alert_timestamp", ["suppressed", "should"])
    alerts = last_alerts()
    assert (alerts["suppressed"], alerts["should"]) == (None, None)
    assert alerts["old-alert"] == T0 - timedelta(days=3)
    assert messages_of(response) == [
        "Reset the alert timestamp of 2 jobs: the next check alerts them if stale."
    ]
    assert history("suppressed") == history("should") == ["Reset the alert timestamp."]
    assert history("old-alert") == []


def test_reset_of_one_job_says_so_in_the_singular(jobs):
    response = run_action(staff_client(VIEW, CHANGE_PERM), "reset_alert_timestamp", ["should"])
    assert messages_of(response) == [
        "Reset the alert timestamp of 1 job: the next check alerts it if it is stale."
    ]


def test_reset_is_refused_without_change_permission(jobs):
    run_action(staff_client(VIEW), "reset_alert_timestamp", ["should"])
    assert last_alerts()["should"] == T0 - timedelta(hours=10)
    assert history("should") == []


def test_pause_and_resume(jobs):
    client = staff_client(VIEW, CHANGE_PERM)
    response = run_action(client, "pause_jobs", ["never", "fresh"])
    assert set(JobHeartbeat.objects.filter(paused=True).values_list("pk", flat=True)) == {
        "never",
        "fresh",
        "paused",
    }
    assert messages_of(response) == ["Paused 2 jobs: no alerts until they are resumed."]
    response = run_action(client, "resume_jobs", ["never", "paused"])
    assert set(JobHeartbeat.objects.filter(paused=True).values_list("pk", flat=True)) == {"fresh"}
    assert messages_of(response) == ["Resumed 2 jobs."]
    resumed = JobHeartbeat.objects.filter(pk__in=["never", "paused"])
    assert set(resumed.values_list("watched_since", flat=True)) == {T0}
    assert history("never") == ["Paused.", "Resumed."]


def test_pause_is_refused_without_change_permission(jobs):
    run_action(staff_client(VIEW), "pause_jobs", ["never"])
    assert not JobHeartbeat.objects.get(pk="never").paused


# --- whole-table procedures behind a confirmation page --------------------------------------


def test_silence_all_action_shows_a_confirmation_page_with_the_count(jobs):
    client = staff_client(VIEW, CHANGE_PERM, SILENCE)
    before = last_alerts()
    response = run_action(client, "silence_all_alerts", ["fresh"])
    page = response.content.decode()
    assert response.templates[0].name == "admin/heartbeats/jobheartbeat/confirm_procedure.html"
    assert "touches <strong>7</strong> jobs" in page
    assert "every job, not only the selected ones" in page
    assert "2026-03-02 18:00 UTC by default" in page
    assert 'name="hours" id="cm-hours" value="6"' in page
    assert f'action="{reverse("admin:heartbeats_jobheartbeat_silence_all")}"' in page
    assert last_alerts() == before


def test_confirming_silence_all_silences_until_a_shown_time_and_logs_it(jobs):
    client = staff_client(VIEW, CHANGE_PERM, SILENCE)
    url = reverse("admin:heartbeats_jobheartbeat_silence_all")
    before = last_alerts()
    assert "touches <strong>7</strong> jobs" in client.get(url).content.decode()
    response = client.post(url, {"confirm": "yes", "hours": "2.5"}, follow=True)
    assert last_alerts() == before  # last_alert_at keeps its meaning
    assert MaintenanceWindow.objects.get(silence=True).end == T0 + timedelta(hours=2.5)
    assert messages_of(response) == ["Silenced all alerts until 2026-03-02 14:30 UTC."]
    assert history() == ["Silenced all alerts until 2026-03-02 14:30 UTC."]
    assert LogEntry.objects.get(object_id=None).object_repr == "all jobs"
    assert "Unsilence (silenced until 14:30)" in response.content.decode()


def test_the_job_list_shows_an_active_silence_to_every_viewer_until_it_ends(jobs, clock):
    procedures.silence_all(now=T0, until=T0 + timedelta(hours=2.5))
    viewer = staff_client(VIEW, username="viewer")  # no permission to silence or unsilence
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "<strong>Alerts silenced until 14:30 UTC (2026-03-02, in 2 h).</strong>" in page
    clock.set(T0 + timedelta(hours=2.5))
    assert 'id="silence-banner"' not in viewer.get(reverse(CHANGELIST)).content.decode()


def test_silence_all_defaults_to_the_anti_spam_window(jobs):
    client = staff_client(VIEW, CHANGE_PERM, SILENCE)
    client.post(reverse("admin:heartbeats_jobheartbeat_silence_all"), {"confirm": "yes"})
    assert MaintenanceWindow.objects.get(silence=True).end == T0 + timedelta(hours=6)


@pytest.mark.parametrize(
    ("hours", "error"),
    [("soon", "soon is not a number of hours."), ("0", "at most 168 h"), ("200", "168 h")],
)
def test_silence_all_refuses_a_bad_length_with_a_reason(jobs, hours, error):
    client = staff_client(VIEW, CHANGE_PERM, SILENCE)
    url = reverse("admin:heartbeats_jobheartbeat_silence_all")
    response = client.post(url, {"confirm": "yes", "hours": hours})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not MaintenanceWindow.objects.exists()
    assert history() == []


def test_unsilence_ends_the_silence_and_logs_it(jobs):
    client = staff_client(VIEW, CHANGE_PERM, SILENCE)
    client.post(reverse("admin:heartbeats_jobheartbeat_silence_all"), {"confirm": "yes"})
    response = client.post(reverse("admin:heartbeats_jobheartbeat_unsilence"), follow=True)
    assert not MaintenanceWindow.objects.exists()
    assert messages_of(response)[-1] == "Alerts are on again."
    assert history()[-1] == "Ended the silence of all alerts."
    assert "Unsilence" not in response.content.decode()


def test_unsilence_needs_the_silence_permission(jobs):
    client = staff_client(VIEW, CHANGE_PERM)
    assert client.post(reverse("admin:heartbeats_jobheartbeat_unsilence")).status_code == 403


def test_a_post_without_confirmation_only_shows_the_page(jobs):
    client = staff_client(VIEW, CHANGE_PERM, SILENCE)
    before = last_alerts()
    response = client.post(reverse("admin:heartbeats_jobheartbeat_silence_all"))
    assert response.status_code == 200
    assert last_alerts() == before


@pytest.mark.parametrize("slug", ["silence_all", "bulk_recover"])
def test_whole_table_procedures_need_their_dedicated_permission(jobs, slug):
    client = staff_client(VIEW, CHANGE_PERM)
    before = list(JobHeartbeat.objects.values_list("pk", "last_alert_at", "last_run_at", "status"))
    url = reverse(f"admin:heartbeats_jobheartbeat_{slug}")
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    response = run_action(client, "silence_all_alerts", ["fresh"])
    assert messages_of(response) == ["No action selected."]
    after = list(JobHeartbeat.objects.values_list("pk", "last_alert_at", "last_run_at", "status"))
    assert after == before
    assert history() == []


def test_the_changelist_offers_procedure_buttons_by_permission(jobs):
    page = staff_client(VIEW, CHANGE_PERM).get(reverse(CHANGELIST)).content.decode()
    assert "Run health check now" in page and "Send test alert" in page
    assert "Silence all alerts…" not in page and "Bulk recover stale jobs…" not in page
    operator = staff_client(VIEW, SILENCE, RECOVER, username="operator2")
    page = operator.get(reverse(CHANGELIST)).content.decode()
    assert "Silence all alerts…" in page and "Bulk recover stale jobs…" in page
    assert "Run health check now" not in page


def test_bulk_recover_confirms_the_stale_count_then_recovers_them(jobs):
    client = staff_client(VIEW, CHANGE_PERM, RECOVER)
    response = run_action(client, "bulk_recover_stale", ["fresh"])
    assert "touches <strong>4</strong> jobs" in response.content.decode()
    before = {job.pk: (job.last_run_at, job.status, job.last_alert_at) for job in all_jobs()}
    url = reverse("admin:heartbeats_jobheartbeat_bulk_recover")
    response = client.post(url, {"confirm": "yes"}, follow=True)
    recovered = {"never", "suppressed", "should", "old-alert"}
    assert {job.pk for job in all_jobs() if job.watched_since == T0} == recovered
    # Their real last run, status and last alert are kept; the paused job is left alone.
    assert {job.pk: (job.last_run_at, job.status, job.last_alert_at) for job in all_jobs()} == (
        before
    )
    assert messages_of(response) == ["Recovered 4 stale jobs."]
    assert history() == ["Recovered 4 stale jobs."]
    entry = "Recovered by 'Bulk recover': a fresh window from 2026-03-02 12:00 UTC."
    for name in recovered:
        assert history(name) == [entry]
    assert history("paused") == []


# --- buttons that need the change permission --------------------------------------------------


@pytest.mark.parametrize("slug", ["run_check", "test_alert"])
def test_buttons_are_refused_without_change_permission(jobs, slug):
    client = staff_client(VIEW)
    assert client.post(reverse(f"admin:heartbeats_jobheartbeat_{slug}")).status_code == 403


@pytest.mark.parametrize("slug", ["run_check", "test_alert"])
def test_buttons_do_nothing_on_get(jobs, slug):
    client = staff_client(VIEW, CHANGE_PERM)
    assert client.get(reverse(f"admin:heartbeats_jobheartbeat_{slug}")).status_code == 405


def test_test_alert_without_a_channel_says_how_to_configure_one(jobs, no_channels):
    client = staff_client(VIEW, CHANGE_PERM)
    response = client.post(reverse("admin:heartbeats_jobheartbeat_test_alert"), follow=True)
    assert messages_of(response) == [
        "No alert channel is configured: stale jobs cannot be alerted. Set SLACK_WEBHOOK_URL, "
        "or RESEND_API_KEY, RESEND_FROM and ALERT_EMAIL_TO."
    ]


# --- the checker from the admin ------------------------------------------------------------


def test_run_health_check_now_runs_the_checker_as_manual_and_reports(jobs, slack_ok, email_ok):
    client = staff_client(VIEW, CHANGE_PERM)
    response = client.post(reverse("admin:heartbeats_jobheartbeat_run_check"), follow=True)
    run = CheckRun.objects.get()
    assert (run.trigger, run.outcome) == ("manual", "ok")
    summary = (
        "Checked 7 jobs (manual): 5 with a problem (4 down, 1 failed), 4 of them stale: "
        "4 alerted, 1 suppressed"
    )
    assert run.alerts_sent == 4
    assert messages_of(response) == [f"Health check finished: {summary}"]
    assert history() == [f"Ran the health check: {summary}"]
    assert response.context["messages"]._loaded_messages[0].level_tag == "success"


def test_run_health_check_now_warns_when_a_delivery_failed(jobs, slack_ok, channels):
    channels.expect_request("/resend/emails", method="POST").respond_with_data("no", status=500)
    client = staff_client(VIEW, CHANGE_PERM)
    response = client.post(reverse("admin:heartbeats_jobheartbeat_run_check"), follow=True)
    (message,) = response.context["messages"]
    assert message.level_tag == "warning"
    assert "failed" in str(message)


def test_force_alert_resets_then_checks_only_the_selected_jobs(jobs, slack_ok, email_ok):
    client = staff_client(VIEW, CHANGE_PERM)
    response = run_action(client, "force_alert", ["suppressed", "fresh"])
    (message,) = messages_of(response)
    assert message.startswith("Forced a check of 2 jobs: suppressed: sent")
    assert message.endswith("; fresh: healthy: nothing to alert.")
    assert last_alerts()["suppressed"] == T0
    assert last_alerts()["should"] == T0 - timedelta(hours=10)
    assert set(Alert.objects.values_list("job_id", flat=True)) == {"suppressed"}
    assert history("suppressed") == history("fresh") == ["Forced an alert."]


def test_force_alert_without_a_channel_says_why_nothing_was_sent(jobs, no_channels):
    client = staff_client(VIEW, CHANGE_PERM)
    response = run_action(client, "force_alert", ["never"])
    (message,) = response.context["messages"]
    assert str(message).startswith("Forced a check of 1 job: never: no_channel")
    assert message.level_tag == "warning"


def test_force_alert_is_refused_without_change_permission(jobs, slack_ok):
    run_action(staff_client(VIEW), "force_alert", ["suppressed"])
    assert last_alerts()["suppressed"] == T0 - timedelta(hours=2)
    assert not Alert.objects.exists()


def test_send_test_alert_reports_each_channel(jobs, slack_ok, email_ok):
    client = staff_client(VIEW, CHANGE_PERM)
    response = client.post(reverse("admin:heartbeats_jobheartbeat_test_alert"), follow=True)
    assert messages_of(response) == [
        "Test alert delivered on slack.",
        "Test alert delivered on email.",
    ]
    (slack_request,) = received(slack_ok, SLACK_SECRET_PATH)
    assert "TEST alert from cronmonitor" in slack_request.get_data(as_text=True)
    assert history() == ["Sent a test alert: 2/2 delivered."]


def test_send_test_alert_shows_a_failure_without_the_secret(jobs, email_ok):
    email_ok.expect_request(SLACK_SECRET_PATH, method="POST").respond_with_data("gone", status=404)
    client = staff_client(VIEW, CHANGE_PERM)
    response = client.post(reverse("admin:heartbeats_jobheartbeat_test_alert"), follow=True)
    failed, delivered = messages_of(response)
    assert failed == "Test alert on slack failed: HTTP 404 (gone)"  # "slack" said once
    assert "SECRET" not in failed
    assert delivered == "Test alert delivered on email."
    assert history() == ["Sent a test alert: 1/2 delivered."]


def test_force_alert_refuses_a_selection_larger_than_its_limit(jobs, slack_ok, monkeypatch):
    from heartbeats.admin import actions

    monkeypatch.setattr(actions, "FORCE_ALERT_LIMIT", 2)
    response = run_action(
        staff_client(VIEW, CHANGE_PERM), "force_alert", ["never", "should", "fresh"]
    )
    (message,) = messages_of(response)
    assert message.startswith("Force alert takes at most 2 jobs at once")
    assert not Alert.objects.exists()
    assert last_alerts()["should"] == T0 - timedelta(hours=10)
