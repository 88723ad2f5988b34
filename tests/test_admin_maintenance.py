"""Maintenance windows in the admin: creating one-off and recurring windows, the refusals with
their reasons, and the job list and job page saying "in maintenance until HH:MM"."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.urls import reverse

from heartbeats.alerts import procedures
from heartbeats.models import JobHeartbeat, MaintenanceWindow
from tests.admin_support import CHANGELIST, change_url, changelist_names, staff_client
from tests.conftest import T0

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
ADD = "admin:heartbeats_maintenancewindow_add"
WINDOWS = "admin:heartbeats_maintenancewindow_changelist"
WINDOW_PERMISSIONS = ["view_maintenancewindow", "add_maintenancewindow", "view_jobheartbeat"]


@pytest.fixture
def operator(clock):
    return staff_client(*WINDOW_PERMISSIONS, "change_maintenancewindow")


def recurring(**changes) -> dict:
    data = {"name": "Sunday nights", "days": ["sun", "sat"], "time_from": "22:00",
            "time_to": "02:00", "tz": "Europe/Berlin", "tags": "db  nightly db"}  # fmt: skip
    return {**data, **changes}


def one_off(**changes) -> dict:
    data = {"name": "Deploy", "start_0": "2026-03-02", "start_1": "12:00", "end_0": "2026-03-02",
            "end_1": "14:00", "tz": "UTC", "all_jobs": "on"}  # fmt: skip
    return {**data, **changes}


def test_an_operator_creates_a_recurring_window_over_tags(operator):
    response = operator.post(reverse(ADD), recurring())
    assert response.status_code == 302, response.context["adminform"].form.errors
    window = MaintenanceWindow.objects.get()
    assert (window.days, window.time_from, window.time_to, window.tags) == (
        "sat sun", time(22), time(2), "db nightly",
    )  # fmt: skip
    page = operator.get(reverse(WINDOWS)).content.decode()
    assert "Sat Sun 22:00 to 02:00 (next day), Europe/Berlin" in page
    assert "tag db, tag nightly" in page
    assert "closed, opens 2026-03-07 21:00 UTC" in page  # Saturday 22:00 CET


def test_an_operator_creates_a_one_off_window_over_chosen_jobs_and_sees_it_open(operator, make_job):
    job = make_job("backup")
    data = one_off(all_jobs="", jobs=[job.pk])
    assert operator.post(reverse(ADD), data).status_code == 302
    assert list(MaintenanceWindow.objects.get().jobs.all()) == [job]
    page = operator.get(reverse(WINDOWS)).content.decode()
    assert "2026-03-02 12:00 UTC to 2026-03-02 14:00 UTC" in page
    assert "1 chosen job" in page and "open until 2026-03-02 14:00 UTC" in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (recurring(tz="Europe/Berln"), "tz",
         "Unknown time zone 'Europe/Berln': use an IANA name such as Europe/Berlin."),
        (one_off(end_1="11:00"), "end", "The end must be after the start."),
        (one_off(end_1="12:00"), "end", "The end must be after the start."),
        (recurring(days=[]), "days", "Choose at least one day of the week."),
        (recurring(time_to=""), "time_to",
         "A recurring window needs the time it opens (from) and closes (to)."),
        (one_off(end_0="", end_1=""), "end",
         "A one-off window needs both a start and an end."),
        (one_off(days=["mon"]), "__all__",
         "A window is one-off (start and end) or recurring (days, from and to), not both."),
        ({"name": "empty", "tz": "UTC", "all_jobs": "on"}, "__all__",
         "Give a start and an end for a one-off window, or days, from and to for a recurring one."),
        (recurring(tags=""), "__all__", "Choose what the window covers: jobs, tags or every job."),
        (recurring(tags="db ba$d"), "tags",
         "Tag 'ba$d' is not 1 to 64 letters, digits or . _ : / @ + = -"),
    ],
)  # fmt: skip
def test_a_wrong_window_is_refused_with_a_reason(operator, data, field, message):
    response = operator.post(reverse(ADD), data)
    assert response.context["adminform"].form.errors[field] == [message]
    assert not MaintenanceWindow.objects.exists()


def test_a_refused_window_shows_the_reason_on_the_page(operator):
    response = operator.post(reverse(ADD), recurring(tz="Mars/Olympus"))
    assert response.status_code == 200
    assert "Unknown time zone &#x27;Mars/Olympus&#x27;" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def row_of(page: str, name: str) -> str:
    start = page.index(f">{name}</a>")
    return page[start : page.index("</tr>", start)]


@pytest.fixture
def covered(clock, make_job):
    """Two jobs, one in an open window until 14:00 UTC (15:00 in Berlin)."""
    in_window = make_job("db-dump", age=30 * H, tags="db")
    make_job("web", age=30 * H)
    window = MaintenanceWindow.objects.create(name="db", start=T0 - H, end=T0 + 2 * H, tags="db")
    return in_window, window


def test_the_job_list_says_which_jobs_are_in_maintenance_until_when(covered, settings):
    viewer = staff_client("view_jobheartbeat")
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    covered_row = row_of(page, "db-dump")
    assert '<small class="cm-note">in maintenance until 14:00 UTC</small>' in covered_row
    assert '<span class="cm-plain">Held (maintenance)</span>' in covered_row
    assert "maintenance" not in row_of(page, "web")
    settings.TIME_ZONE = "Europe/Berlin"  # times are shown in the operator's zone
    page = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "in maintenance until 15:00 CET" in row_of(page, "db-dump")


def test_the_job_page_says_in_maintenance_until_when(covered):
    job, _ = covered
    viewer = staff_client("view_jobheartbeat")
    assert "in maintenance until 14:00 UTC" in viewer.get(change_url(job)).content.decode()


def test_the_in_maintenance_filter_lists_the_covered_jobs_only(covered, clock):
    viewer = staff_client("view_jobheartbeat")
    assert changelist_names(viewer, "?maintenance=now") == ["db-dump"]
    assert "In maintenance now" in viewer.get(reverse(CHANGELIST)).content.decode()
    clock.advance(hours=2)  # the window has closed
    assert changelist_names(viewer, "?maintenance=now") == []


def test_silence_all_is_a_window_over_every_job_that_only_the_job_list_changes(operator):
    procedures.silence_all(now=T0, until=T0 + 2 * H)
    window = MaintenanceWindow.objects.get()
    assert (window.name, window.all_jobs, window.start, window.end) == (
        "Silence all alerts", True, T0, T0 + 2 * H,
    )  # fmt: skip
    page = operator.get(reverse(WINDOWS)).content.decode()
    assert "every job" in page and "open until 2026-03-02 14:00 UTC" in page
    change = reverse("admin:heartbeats_maintenancewindow_change", args=[window.pk])
    assert operator.post(change, one_off(name="renamed")).status_code == 403
    delete = reverse("admin:heartbeats_maintenancewindow_delete", args=[window.pk])
    deleter = staff_client(*WINDOW_PERMISSIONS, "delete_maintenancewindow", username="deleter")
    assert deleter.post(delete, {"post": "yes"}).status_code == 403
    silencer = staff_client(
        *WINDOW_PERMISSIONS, "delete_maintenancewindow", "silence_all_alerts", username="silencer"
    )
    assert silencer.post(delete, {"post": "yes"}).status_code == 302
    assert not MaintenanceWindow.objects.exists()
    assert JobHeartbeat.objects.count() == 0
