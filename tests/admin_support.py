"""Helpers shared by the admin tests: staff users with chosen permissions, a runbook job set."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from selenium.webdriver.common.by import By

CHANGELIST = "admin:heartbeats_jobheartbeat_changelist"
PASSWORD = "correct-horse-battery-staple"


def staff_client(*codenames: str, username: str = "operator") -> Client:
    """A client logged in as a staff user holding exactly the `heartbeats` permissions given."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    permissions = Permission.objects.filter(
        content_type__app_label="heartbeats", codename__in=codenames
    )
    assert permissions.count() == len(codenames), codenames
    user.user_permissions.add(*permissions)
    client = Client()
    client.force_login(user)
    return client


def runbook_jobs(make_job, now) -> None:
    """One job per row of the runbook's tables, at the default thresholds (24 h, 6 h)."""
    make_job("fresh", age=timedelta(hours=1), now=now)
    make_job("never", age=timedelta(hours=30), now=now)
    make_job("suppressed", age=timedelta(hours=30), now=now, last_alert_at=now - timedelta(hours=2))
    make_job("should", age=timedelta(hours=50), now=now, last_alert_at=now - timedelta(hours=10))
    make_job("old-alert", age=timedelta(hours=100), now=now, last_alert_at=now - timedelta(days=3))
    make_job("failing", age=timedelta(hours=2), now=now, status="failed", last_outcome="fail")
    make_job("paused", age=timedelta(hours=30), now=now, paused=True, status="maintenance")


def changelist_names(client: Client, query: str = "") -> list[str]:
    response = client.get(reverse(CHANGELIST) + query)
    assert response.status_code == 200, response
    return [job.job_name for job in response.context["cl"].result_list]


def change_url(job) -> str:
    return reverse("admin:heartbeats_jobheartbeat_change", args=[job.pk])


def as_shown(client: Client, job, **changes) -> dict:
    """What a browser posts from the change form as loaded now, with `changes` typed in: each
    field, and the hidden initial value the page was rendered with."""
    form = client.get(change_url(job)).context["adminform"].form
    shown = {bound.name: bound.field.prepare_value(bound.value()) for bound in form}
    data = {f"initial-{name}": "" if value is None else str(value) for name, value in shown.items()}
    data.update({name: value for name, value in shown.items() if value not in (None, False)})
    return {**data, **changes}


def browser_operator(browser, live_server_url: str, django_user_model) -> None:
    """Sign a superuser "operator" in, in the browser at 1280 px, and wait for the login's own
    redirect to land (else it can overtake the test's first page on a fresh Chromium)."""
    django_user_model.objects.create_user(
        "operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    browser.set_window_size(1280, 900)
    browser.delete_all_cookies()
    browser.get(f"{live_server_url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.implicitly_wait(10)
    browser.find_element(By.ID, "user-tools")
