"""Maintenance windows over the API: a one-off window made over the API holds a stale job's
alert until it closes; recurring windows; bad input refused with the reasons of
`domain.maintenance.problems` and nothing written; the silence window read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats.alerts import check_run, procedures
from heartbeats.models import Alert, MaintenanceWindow
from tests.conftest import T0

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def yearly_checker(settings):
    """Passes hours apart are then not a monitoring outage."""
    settings.HEALTHCHECK_SCHEDULE = "0 0 1 1 *"


def check(clock) -> None:
    check_run.run_check(now=clock.now(), trigger="manual", sleep=lambda seconds: None)


def test_a_window_made_over_the_api_holds_a_stale_jobs_alert_until_it_closes(
    api, make_job, slack_ok, email_ok, clock
):  # fmt: skip
    job = make_job("backup", age=30 * H)
    other = make_job("report", age=30 * H)
    made = api.post("maintenance/", {"name": "deploy", "start": "2026-03-02T11:00:00Z",
                                     "end": "2026-03-02T15:00:00+00:00",
                                     "checks": [str(job.uuid)]})  # fmt: skip
    assert made.status_code == 201, made.content
    shown = made.json()
    assert (shown["checks"], shown["open_until"], shown["days"]) == (
        [str(job.uuid)], "2026-03-02T15:00:00+00:00", "",
    )  # fmt: skip
    check(clock)
    assert list(Alert.objects.values_list("job_id", flat=True)) == ["report"]
    clock.advance(hours=3, minutes=1)
    check(clock)
    assert sorted(Alert.objects.values_list("job_id", flat=True)) == ["backup", "report"]
    assert other.pk == "report"


def test_a_recurring_window_is_made_changed_and_deleted(api, make_job):
    nightly = {"name": "nightly", "days": "sat mon", "from": "22:00", "to": "02:00"}
    made = api.post("maintenance/", {**nightly, "tz": "Europe/Berlin", "tags": "db"})
    assert made.status_code == 201, made.content
    code = made.json()["id"]
    assert {k: made.json()[k] for k in ("days", "from", "to", "tz", "tags", "all", "start")} == {
        "days": "mon sat", "from": "22:00", "to": "02:00", "tz": "Europe/Berlin",
        "tags": "db", "all": False, "start": None,
    }  # fmt: skip
    changed = api.post(f"maintenance/{code}", {"to": "03:30", "all": True}).json()
    assert (changed["from"], changed["to"], changed["all"]) == ("22:00", "03:30", True)
    one_off = api.post(f"maintenance/{code}", {"start": "2026-03-02T11:00:00Z",
                                              "end": "2026-03-02T12:00:00Z"}).json()  # fmt: skip
    assert (one_off["days"], one_off["from"], one_off["to"]) == ("", None, None)
    assert api.get("maintenance/").json()["maintenance"][0]["id"] == code
    assert api.delete(f"maintenance/{code}").json()["name"] == "nightly"
    assert not MaintenanceWindow.objects.exists()


ONE_OFF = {"name": "deploy", "start": "2026-03-02T11:00:00Z", "end": "2026-03-02T15:00:00Z",
           "all": True}  # fmt: skip
WEEKLY = {"name": "weekly", "days": "sun", "from": "01:00", "to": "03:00", "all": True}
BAD = [
    ({**ONE_OFF, "end": "2026-03-02T10:00:00Z"}, "end: The end must be after the start."),
    ({**ONE_OFF, "start": "2026-03-02T11:00:00"}, "start is not an ISO 8601 time with a UTC"),
    ({**ONE_OFF, "start": "yesterday"}, "start is not an ISO 8601 time"),
    ({**ONE_OFF, "start": 1772449200}, "start is not a string"),
    ({**ONE_OFF, "name": None}, "name is not a string"),
    ({**ONE_OFF, "all": "yes"}, "all is not a boolean"),
    ({**ONE_OFF, "all": False}, "Choose what the window covers"),
    ({**ONE_OFF, "days": "sun", "from": "01:00", "to": "02:00"}, "one-off (start and end) or"),
    ({"name": "x", "start": "2026-03-02T11:00:00Z", "all": True}, "A one-off window needs both"),
    ({**WEEKLY, "tz": "Mars/Olympus"}, "tz: Unknown time zone 'Mars/Olympus'"),
    ({**WEEKLY, "from": "25:00"}, "from is not a time as HH:MM"),
    ({**WEEKLY, "days": "funday"}, "days must be days from mon tue"),
    ({**WEEKLY, "to": None}, "to is not a string"),
    ({**WEEKLY, "days": ""}, "days: Choose at least one day"),
    ({**WEEKLY, "checks": "abc"}, "checks is not an array"),
    ({**WEEKLY, "checks": ["abc"]}, "checks has an item that is not a UUID"),
    ({**WEEKLY, "checks": ["8e3f0d2a-1111-4c1e-9a55-0a5d3c6b7e01"]},
     "invalid check identifier: 8e3f0d2a-1111-4c1e-9a55-0a5d3c6b7e01"),
    ({"days": "sun", "from": "01:00", "to": "03:00", "all": True}, "a new window needs a name"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "reason"), BAD)
def test_bad_window_input_is_refused_with_a_reason_and_nothing_written(api, body, reason):
    answer = api.post("maintenance/", body)
    assert answer.status_code == 400, answer.content
    assert reason in answer.json()["error"]
    assert not MaintenanceWindow.objects.exists()


def test_a_bad_update_changes_nothing(api, make_job):
    code = api.post("maintenance/", ONE_OFF).json()["id"]
    before = list(MaintenanceWindow.objects.values())
    for body in ({"end": "2026-03-01T00:00:00Z"}, {"name": "x", "tz": "Nowhere/Land"}):
        assert api.post(f"maintenance/{code}", body).status_code == 400
    huge = api.post(f"maintenance/{code}", raw='{"name": "' + "x" * 70_000 + '"}')
    assert huge.status_code == 400
    assert list(MaintenanceWindow.objects.values()) == before


def test_the_silence_window_is_shown_but_not_changed_over_the_api(api, clock):
    procedures.silence_all(now=T0, until=T0 + H)
    (shown,) = api.get("maintenance/").json()["maintenance"]
    assert (shown["silence"], shown["all"]) == (True, True)
    for answer in (api.post(f"maintenance/{shown['id']}", {"name": "mine"}),
                   api.delete(f"maintenance/{shown['id']}")):  # fmt: skip
        assert answer.status_code == 403
        assert "set and ended from the job list" in answer.json()["error"]
    assert MaintenanceWindow.objects.get().name != "mine"
