"""In headless Chromium: an operator adds a maintenance window over a tag (a refusal first, with
its reason), sees it open in the windows' list, and finds the covered job "in maintenance" on
the job list. Screenshots go to artifacts/screenshots/ for review."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from heartbeats.models import MaintenanceWindow
from tests.admin_support import browser_operator

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


@pytest.fixture
def operator_browser(browser, live_server, django_user_model, transactional_db, make_job):
    now = timezone.now()
    make_job("db-dump", age=timedelta(hours=30), now=now, tags="db nightly")
    make_job("web-cleanup", age=timedelta(hours=30), now=now)
    browser_operator(browser, live_server.url, django_user_model)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.implicitly_wait(0)


def fill(browser, name: str, text: str) -> None:
    field = browser.find_element(By.NAME, name)
    field.clear()
    field.send_keys(text)


def test_operator_adds_a_window_over_a_tag_and_the_job_shows_in_maintenance(
    operator_browser, live_server
):
    browser = operator_browser
    now = timezone.localtime()
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    browser.get(f"{live_server.url}/admin/heartbeats/maintenancewindow/add/")
    fill(browser, "name", "Database upgrade")
    fill(browser, "start_0", f"{start:%Y-%m-%d}")
    fill(browser, "start_1", f"{start:%H:%M}")
    fill(browser, "end_0", f"{start:%Y-%m-%d}")
    fill(browser, "end_1", f"{start - timedelta(minutes=1):%H:%M}")  # before the start
    fill(browser, "tags", "db")
    browser.find_element(By.NAME, "_save").click()
    error = browser.find_element(By.CSS_SELECTOR, ".field-end .errorlist, .errors.field-end ul")
    assert error.text == "The end must be after the start."
    browser.save_screenshot(str(SCREENSHOTS / "admin-maintenance-window-refused.png"))
    fill(browser, "end_0", f"{end:%Y-%m-%d}")
    fill(browser, "end_1", f"{end:%H:%M}")
    browser.find_element(By.NAME, "_save").click()
    browser.find_element(By.CSS_SELECTOR, ".messagelist .success")
    assert MaintenanceWindow.objects.get().tags == "db"
    row = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr").text
    assert "tag db" in row and f"open until {end:%Y-%m-%d %H:%M}" in row
    browser.save_screenshot(str(SCREENSHOTS / "admin-maintenance-windows.png"))
    browser.get(f"{live_server.url}/admin/heartbeats/jobheartbeat/?maintenance=now")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, ".field-name").text for r in rows] == ["db-dump"]
    assert f"in maintenance until {end:%H:%M}" in rows[0].text
    browser.save_screenshot(str(SCREENSHOTS / "admin-job-list-in-maintenance.png"))
