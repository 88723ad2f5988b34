"""The check fields the management API added are set in the admin too: display name,
description, methods, body keywords, manual resume and "alert no channel"; what the form saves
is what the API answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from heartbeats.alerts import routing
from heartbeats.models import JobHeartbeat
from tests.admin_support import as_shown, change_url, staff_client

pytestmark = pytest.mark.django_db

EDITS = {
    "display_name": "Nightly backup", "desc": "Dumps the database", "methods": "POST",
    "filter_body": "on", "start_kw": "begin", "success_kw": "done, ok", "failure_kw": "ERROR",
    "manual_resume": "on", "no_channels": "on",
}  # fmt: skip


@pytest.fixture
def editor(db, clock):
    return staff_client("view_jobheartbeat", "add_jobheartbeat", "change_jobheartbeat")


def test_the_change_form_sets_the_api_check_fields(editor, make_job, api):
    job = make_job("backup")
    answer = editor.post(change_url(job), as_shown(editor, job, **EDITS))
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    job.refresh_from_db()
    assert (job.name, job.desc, job.methods, job.filter_body) == (
        "Nightly backup", "Dumps the database", "POST", True,
    )  # fmt: skip
    assert (job.start_kw, job.success_kw, job.failure_kw) == ("begin", "done, ok", "ERROR")
    assert (job.manual_resume, job.no_channels, routing.job_routes(job)) == (True, True, [])
    shown = api.get(f"checks/{job.uuid}").json()
    assert (shown["name"], shown["methods"], shown["success_kw"], shown["channels"]) == (
        "Nightly backup", "POST", "done, ok", "",
    )  # fmt: skip


def test_the_add_form_takes_them_and_refuses_an_unknown_method(editor):
    url = reverse("admin:heartbeats_jobheartbeat_add")
    base = {"job_name": "report", "status": "ok", "tz": "UTC", "period": "1h"}
    refused = editor.post(url, {**base, "methods": "GET"})
    assert "methods" in refused.context["adminform"].form.errors
    assert not JobHeartbeat.objects.exists()
    added = editor.post(url, {**base, "display_name": "Report", "filter_body": "on",
                              "failure_kw": "FAIL"})  # fmt: skip
    assert added.status_code == 302, added.context["adminform"].form.errors
    job = JobHeartbeat.objects.get()
    assert (job.name, job.filter_body, job.failure_kw, job.methods) == ("Report", True, "FAIL", "")
