"""Screenshots for review, in headless Chromium: the Channels page (the database's channels and
the environment's, read-only), a channel's form with its secrets masked, and a job page saying
where its alerts go and why."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from heartbeats.models import Channel, JobHeartbeat
from tests.test_browser_review import SCREENSHOTS, review  # noqa: F401  (the fixture)

TOKEN = "BROWSERsecretTOKEN-0123456789"


@pytest.fixture
def routed(review, channels):  # noqa: F811
    for name, kind, fields, secrets in (
        ("data-team", "msteams", {"tags": "data"}, {"url": f"https://example.com/wf/{TOKEN}"}),
        ("pager", "pagerduty", {"is_default": True, "notify_up": True},
         {"routing_key": TOKEN}),
    ):  # fmt: skip
        channel = Channel(name=name, kind=kind, **fields)
        channel.set_secrets(secrets)
        channel.save()
    JobHeartbeat.objects.filter(pk="nightly-db-backup").update(tags="data nightly")
    return review


def test_the_channels_page_lists_both_sources(routed, live_server):
    routed.get(f"{live_server.url}/admin/heartbeats/channel/")
    environment = routed.find_element(By.ID, "cm-environment-channels")
    assert "slack" in environment.text and "email" in environment.text
    assert "data-team" in routed.find_element(By.ID, "result_list").text
    assert TOKEN not in routed.page_source
    routed.save_screenshot(str(SCREENSHOTS / "admin-channels.png"))


def test_a_channel_form_shows_its_secrets_masked(routed, live_server):
    channel = Channel.objects.get(name="data-team")
    routed.get(f"{live_server.url}/admin/heartbeats/channel/{channel.pk}/change/")
    assert (
        "webhook URL: •••••••• (set)"
        in routed.find_element(By.CLASS_NAME, "field-secrets_state").text
    )
    assert routed.find_element(By.NAME, "url").get_attribute("value") == ""
    assert TOKEN not in routed.page_source
    routed.save_screenshot(str(SCREENSHOTS / "admin-channel-form.png"))


def test_the_job_page_says_where_its_alerts_go(routed, live_server):
    routed.get(f"{live_server.url}/admin/heartbeats/jobheartbeat/nightly-db-backup/change/")
    routes = routed.find_element(By.CSS_SELECTOR, "table.cm-routes")
    assert "via tag data" in routes.text
    routed.execute_script("arguments[0].scrollIntoView({block: 'center'})", routes)
    routed.save_screenshot(str(SCREENSHOTS / "admin-job-page-routes.png"))
