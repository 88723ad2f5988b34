"""The summary page in headless Chromium: sign in, read the figures, save screenshots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from heartbeats.models import Alert, AlertDelivery, CheckRun, PingEvent

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
H = timedelta(hours=1)


@pytest.fixture
def summary_driver(browser):
    """The shared browser; lookups wait (inside chromedriver) for a page a click started."""
    browser.implicitly_wait(10)
    yield browser
    browser.implicitly_wait(0)


@pytest.fixture
def operator(settings, django_user_model, transactional_db):
    settings.TIME_ZONE = "Europe/Berlin"
    return django_user_model.objects.create_user(
        "operator", password="a-long-test-password-42", is_staff=True, is_superuser=True
    )


@pytest.fixture
def history(make_job, six_hourly_checker):
    """A week of alerts over four jobs, two of them stale, and a failed last checker run (of a
    6-hourly checker: its runs are hours apart)."""
    now = timezone.now()
    make_job("nightly-backup", age=50 * H, now=now, last_alert_at=now - 5 * H)
    make_job("invoice-export", age=27 * H, now=now, last_alert_at=now - 2 * H)
    make_job("hourly-sync", age=H / 6, now=now)
    make_job("cache-warm", age=H / 2, now=now)
    alerted = [
        (2, "invoice-export"), (5, "nightly-backup"), (30, "hourly-sync"),
        (31, "cache-warm"), (54, "nightly-backup"), (100, "hourly-sync"),
    ]  # fmt: skip
    for hours_ago, job in alerted:
        alert = Alert.objects.create(
            job_id=job, kind="down", created_at=now - hours_ago * H, done=True
        )
        AlertDelivery.objects.create(alert=alert, channel="slack", state="sent")
        AlertDelivery.objects.create(alert=alert, channel="email", state="sent")
    PingEvent.objects.create(job_id="hourly-sync", kind="success", created_at=now - 29.5 * H)
    for hours_ago in (13, 7):
        CheckRun.objects.create(
            started_at=now - hours_ago * H, finished_at=now - hours_ago * H + timedelta(seconds=3),
            outcome="ok", total_jobs=4, stale_jobs=2, alerts_sent=1, suppressed_alerts=2,
        )  # fmt: skip
    CheckRun.objects.create(
        started_at=now - H, finished_at=now - H + timedelta(seconds=1), outcome="failed",
        total_jobs=4, error="OperationalError: could not connect to server",
    )  # fmt: skip


def test_summary_in_chromium(summary_driver, live_server, operator, history):
    driver = summary_driver
    driver.set_window_size(1280, 2600)
    driver.get(f"{live_server.url}/summary/")
    assert "/admin/login/" in driver.current_url
    driver.find_element(By.ID, "id_username").send_keys("operator")
    driver.find_element(By.ID, "id_password").send_keys("a-long-test-password-42")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    banner = driver.find_element(By.ID, "checker-banner")
    assert driver.current_url == f"{live_server.url}/summary/"
    assert "last run failed" in banner.text
    assert driver.find_element(By.ID, "alerts-sent").text == "2"
    stale = driver.find_elements(By.CSS_SELECTOR, "#stale-jobs tbody a")
    assert [link.text for link in stale] == ["nightly-backup", "invoice-export"]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#anti-spam svg rect")) == 14
    assert len(driver.find_elements(By.CSS_SELECTOR, "#daily-table tbody tr")) == 7
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(url.startswith(live_server.url) for url in resources)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "summary.png"))

    driver.set_window_size(390, 844)
    driver.get(f"{live_server.url}/summary/?window=7d")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
    assert driver.find_element(By.ID, "alerts-sent").text == "6"
    driver.save_screenshot(str(SCREENSHOTS / "summary-mobile.png"))

    driver.find_element(By.LINK_TEXT, "nightly-backup").click()
    driver.find_element(By.ID, "jobheartbeat_form")
    assert driver.current_url.endswith("/admin/heartbeats/jobheartbeat/nightly-backup/change/")
