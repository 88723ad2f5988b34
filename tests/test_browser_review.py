"""Screenshots for review, in headless Chromium: the job list at 1280 px (no sideways scroll,
tools clear of the title), a job page with a failed run's output, and the Slack alert about
that run as Slack would show it. The summary page's are taken in test_browser_summary.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from heartbeats.alerts import check_run
from heartbeats.models import CheckRun, EventKind
from heartbeats.signals import recording
from tests import slack_preview
from tests.admin_support import browser_operator, runbook_jobs
from tests.conftest import SLACK_SECRET_PATH, received

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
FAILED_OUTPUT = (
    "pg_dump: dumping contents of table public.invoices\n"
    "pg_dump: error: query failed: ERROR:  could not read block 1742 in file base/16384/2619\n"
    "pg_dump: detail: Query was: COPY public.invoices (id, customer_id, total) TO stdout;\n"
    "backup.sh: <dump incomplete>, removing /var/backups/db-2026-11-30.sql.gz\n"
)


@pytest.fixture
def review(browser, live_server, django_user_model, transactional_db, make_job, settings):
    """A signed-in operator and a realistic set of jobs, one of them just failed."""
    settings.SITE_URL = live_server.url
    now = timezone.now()
    runbook_jobs(make_job, now)
    make_job("web1.cleanup-temp-files-of-the-reporting-cluster", age=timedelta(minutes=5), now=now)
    make_job("hourly-sync", age=timedelta(minutes=50), now=now, period=timedelta(hours=1),
             due_at=now + timedelta(minutes=5), grace=timedelta(minutes=15))  # fmt: skip
    make_job("nightly-db-backup", age=timedelta(days=1), now=now, cron="0 2 * * *")
    recording.record_signal(
        job_name="nightly-db-backup", kind=EventKind.START, now=now - timedelta(minutes=3),
        host="db1.example.com",
    )  # fmt: skip
    recording.record_signal(
        job_name="nightly-db-backup", kind=EventKind.FAIL, exit_status=1, body=FAILED_OUTPUT,
        now=now - timedelta(minutes=1), host="db1.example.com",
    )  # fmt: skip
    CheckRun.objects.create(started_at=now - timedelta(minutes=2), outcome="ok")
    browser_operator(browser, live_server.url, django_user_model)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.implicitly_wait(0)


def test_job_list_at_1280_px_has_no_sideways_scroll_and_clear_tools(review, live_server):
    review.get(f"{live_server.url}/admin/heartbeats/jobheartbeat/")
    review.find_element(By.ID, "result_list")
    widths = review.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    title, tools = (
        review.find_element(By.CSS_SELECTOR, selector).rect
        for selector in ("#content > h1", ".object-tools")
    )
    assert tools["y"] >= title["y"] + title["height"], (title, tools)
    table, filters = (
        review.find_element(By.CSS_SELECTOR, selector).rect
        for selector in ("#result_list", "#changelist-filter")
    )
    assert table["x"] + table["width"] <= filters["x"], (table, filters)
    headers = [th.text for th in review.find_elements(By.CSS_SELECTOR, "#result_list thead th")]
    assert "ALERT STATE" in [header.upper() for header in headers]
    review.save_screenshot(str(SCREENSHOTS / "admin-job-list-1280.png"))


# Where the browser wrapped a link's text: the character before each new line.
WRAPPED_AFTER = """
const text = arguments[0].textContent, node = arguments[0], breaks = [];
const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
let previousTop = null, previousChar = null;
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  for (let i = 0; i < n.length; i++) {
    const range = document.createRange();
    range.setStart(n, i); range.setEnd(n, i + 1);
    const top = range.getClientRects()[0].top;
    if (previousTop !== null && top > previousTop + 2) breaks.push(previousChar);
    previousTop = top; previousChar = n.data[i];
  }
}
return breaks;
"""


def test_long_job_names_wrap_after_dots_and_dashes_never_mid_word(review, live_server):
    review.get(f"{live_server.url}/admin/heartbeats/jobheartbeat/")
    links = {a.text: a for a in review.find_elements(By.CSS_SELECTOR, "#result_list tbody th a")}
    assert review.execute_script(WRAPPED_AFTER, links["suppressed"]) == []
    long_name = links["web1.cleanup-temp-files-of-the-reporting-cluster"]
    breaks = review.execute_script(WRAPPED_AFTER, long_name)
    assert breaks and set(breaks) <= {".", "-"}, breaks
    review.execute_script("arguments[0].scrollIntoView({block: 'center'})", long_name)
    review.save_screenshot(str(SCREENSHOTS / "admin-job-list-1280-long-name.png"))


def test_job_page_shows_the_failed_runs_output(review, live_server):
    review.get(f"{live_server.url}/admin/heartbeats/jobheartbeat/nightly-db-backup/change/")
    events = review.find_element(By.CSS_SELECTOR, "table.cm-events")
    assert "db1.example.com" in events.text
    review.find_element(By.CSS_SELECTOR, "table.cm-events details summary").click()
    body = review.find_element(By.CSS_SELECTOR, "table.cm-events details pre")
    assert "could not read block 1742" in body.text
    review.execute_script("arguments[0].scrollIntoView({block: 'center'})", events)
    review.save_screenshot(str(SCREENSHOTS / "admin-job-page-failed-run.png"))


def test_the_slack_alert_as_slack_shows_it(review, slack_ok, settings, tmp_path):
    settings.RESEND_API_KEY = ""  # Slack only
    check_run.run_check(now=timezone.now(), trigger="manual", job_names=["nightly-db-backup"])
    (request,) = received(slack_ok, SLACK_SECRET_PATH)
    page = tmp_path / "slack.html"
    page.write_text(slack_preview.render(request.get_json()["blocks"]))
    review.get(page.as_uri())
    text = review.find_element(By.TAG_NAME, "body").text
    assert "nightly-db-backup" in text and "<dump incomplete>" in text
    assert "0 2 * * *" in text
    review.set_window_size(820, 520)
    review.save_screenshot(str(SCREENSHOTS / "slack-alert.png"))
