"""End to end in headless Chromium: log in, filter stale jobs, reset and silence through the UI.

The live server and the browser share the real clock (a frozen one would expire the session
cookie in the browser), so the jobs are aged relative to now and every wait is a WebDriverWait.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from heartbeats.models import JobHeartbeat, MaintenanceWindow
from tests.admin_support import PASSWORD, runbook_jobs

SCREENSHOT = settings.BASE_DIR / "artifacts" / "screenshots" / "admin-changelist.png"
WAIT_SECONDS = 15


def operator() -> None:
    user = get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True)
    codenames = ["view_jobheartbeat", "change_jobheartbeat", "silence_all_alerts"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def shown_jobs(driver) -> set[str]:
    cells = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody th")
    return {cell.text for cell in cells}


def run_action(driver, action: str, names: list[str]) -> None:
    for name in names:
        driver.find_element(By.CSS_SELECTOR, f'input.action-select[value="{name}"]').click()
    Select(driver.find_element(By.NAME, "action")).select_by_value(action)
    driver.find_element(By.NAME, "index").click()


def wait_for_message(driver, text: str) -> None:
    WebDriverWait(driver, WAIT_SECONDS).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, "ul.messagelist"), text)
    )


@pytest.mark.django_db(transaction=True)
def test_operator_filters_stale_jobs_resets_one_and_silences_all(live_server, browser, make_job):
    start = timezone.now()
    runbook_jobs(make_job, start)
    operator()
    wait = WebDriverWait(browser, WAIT_SECONDS)
    browser.delete_all_cookies()

    browser.get(f"{live_server.url}/admin/login/?next=/admin/heartbeats/jobheartbeat/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "result_list")))

    browser.find_element(By.CSS_SELECTOR, '#changelist-filter a[href="?health=stale"]').click()
    wait.until(ec.url_contains("health=stale"))
    stale = {"never", "suppressed", "should", "old-alert", "paused"}
    wait.until(lambda driver: shown_jobs(driver) == stale)
    assert browser.find_elements(By.CSS_SELECTOR, "#result_list .cm-badge")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    run_action(browser, "reset_alert_timestamp", ["suppressed", "should"])
    wait_for_message(browser, "Reset the alert timestamp of 2 jobs")
    alerts = dict(JobHeartbeat.objects.values_list("job_name", "last_alert_at"))
    assert (alerts["suppressed"], alerts["should"]) == (None, None)
    assert alerts["old-alert"] == start - timedelta(days=3)

    run_action(browser, "silence_all_alerts", ["never"])
    confirm = wait.until(ec.element_to_be_clickable((By.ID, "cm-confirm")))
    assert "touches 7 jobs" in browser.find_element(By.ID, "cm-confirm-count").text
    assert dict(JobHeartbeat.objects.values_list("job_name", "last_alert_at")) == alerts
    confirm.click()
    wait_for_message(browser, "Silenced all alerts until")
    until = MaintenanceWindow.objects.get(silence=True).end
    assert start + timedelta(hours=6) <= until <= timezone.now() + timedelta(hours=6)
    assert dict(JobHeartbeat.objects.values_list("job_name", "last_alert_at")) == alerts
    assert browser.find_element(By.ID, "cm-unsilence").text.lower() == (
        f"unsilence (silenced until {until:%H:%M})"
    )
