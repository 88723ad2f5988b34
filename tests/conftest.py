"""Shared fixtures: a clock, job factories and alert channels pointed at a local HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone
from pytest_httpserver import HTTPServer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from werkzeug import Response

from heartbeats.models import Alert, AlertDelivery, Channel, JobHeartbeat

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Clock:
    """A frozen clock that tests move explicitly; `timezone.now()` follows it."""

    def __init__(self, traveller: time_machine.Coordinates) -> None:
        self._traveller = traveller

    def now(self) -> datetime:
        return timezone.now()

    def advance(self, **delta: float) -> datetime:
        self._traveller.shift(timedelta(**delta))
        return self.now()

    def set(self, moment: datetime) -> datetime:
        self._traveller.move_to(moment)
        return self.now()


@pytest.fixture(scope="session")
def make_httpserver():
    """pytest-httpserver's server, threaded: a slow Slack must not hold up the email API."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield Clock(traveller)


@pytest.fixture
def six_hourly_checker(settings):
    """The runbook's lighter schedule, for tests whose passes are hours apart: at the
    every-minute default such a gap is a suspected monitoring outage, which defers alerts."""
    settings.HEALTHCHECK_SCHEDULE = "0 */6 * * *"
    return settings


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Signing in is set-up, not the subject: Django's PBKDF2 costs about 0.25 s per test user
    here, and hundreds of admin and API tests make one. Production keeps Django's default."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture
def make_job(db):
    """Create a job whose last heartbeat was `age` ago (relative to `now`, default: T0)."""

    def make(name: str = "backup", *, age: timedelta = timedelta(0), now: datetime = T0, **fields):
        fields.setdefault("n_runs", 1)
        return JobHeartbeat.objects.create(
            job_name=name, last_run_at=now - age, created_at=now - age, **fields
        )

    return make


@pytest.fixture
def make_alert(db):
    """Create a `kind` alert about `job`, made a minute before T0 and pending on `channels`."""

    def make(job, *, kind="down", channels=("slack", "email"), **fields):
        made = T0 - timedelta(minutes=1)
        alert = Alert.objects.create(job=job, kind=kind, created_at=made)
        for channel in channels:
            fields.setdefault("next_attempt_at", made)
            AlertDelivery.objects.create(alert=alert, channel=channel, created_at=made, **fields)
        return alert

    return make


@pytest.fixture
def make_channel(db):
    """Create a channel kept in the database, its `secrets` encrypted as the admin does."""

    def make(name: str, kind: str, *, secrets: dict | None = None, **fields):
        channel = Channel(name=name, kind=kind, **fields)
        channel.set_secrets(secrets or {})
        channel.save()
        return channel

    return make


@pytest.fixture
def no_channels(settings):
    settings.SLACK_WEBHOOK_URL = ""
    settings.RESEND_API_KEY = ""
    settings.RESEND_FROM = ""
    settings.ALERT_EMAIL_TO = []
    return settings


SLACK_SECRET_PATH = "/services/T000SECRET/B000SECRET/xoxSECRETslackTOKEN"
RESEND_SECRET_KEY = "re_SECRETresendKEY_123456789"


@pytest.fixture
def channels(settings, httpserver):
    """Slack and email both configured, both pointed at the local HTTP server."""
    settings.SLACK_WEBHOOK_URL = httpserver.url_for(SLACK_SECRET_PATH)
    settings.RESEND_API_KEY = RESEND_SECRET_KEY
    settings.RESEND_FROM = "alerts@example.com"
    settings.ALERT_EMAIL_TO = ["ops@example.com", "oncall@example.com"]
    settings.RESEND_API_URL = httpserver.url_for("/resend").rstrip("/")
    settings.SITE_URL = "https://cron.example.com"
    settings.ALERT_CONNECT_TIMEOUT = 1
    settings.ALERT_READ_TIMEOUT = 1
    settings.ALERT_THROTTLE = False
    settings.ALERT_RETRIES_PER_RUN = 0
    return httpserver


@pytest.fixture
def slack_ok(channels):
    channels.expect_request(SLACK_SECRET_PATH, method="POST").respond_with_data("ok")
    return channels


@pytest.fixture
def email_ok(channels):
    channels.expect_request("/resend/emails", method="POST").respond_with_json({"id": "e-1"})
    return channels


@pytest.fixture
def hanging_slack(channels, settings):
    """Slack on a server of its own that takes every request and answers only once the test
    is over: of its own, so that late answer is never logged into another test's server."""
    release = threading.Event()

    def hang(request) -> Response:
        release.wait(120)
        return Response("ok")

    server = HTTPServer(threaded=True)
    server.expect_request(SLACK_SECRET_PATH).respond_with_handler(hang)
    server.start()
    settings.SLACK_WEBHOOK_URL = server.url_for(SLACK_SECRET_PATH)
    yield server
    release.set()
    server.stop()


def received(httpserver, path: str) -> list:
    """The requests the local server received on `path`, in order."""
    return [request for request, _ in httpserver.log if request.path == path]


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


CHROMIUM_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
]


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's headless chromium through its chromedriver: never a browser downloaded by a tool."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


def at_once(work: Callable[[int], object], workers: int) -> list[BaseException]:
    """Run `work(0)` ... `work(workers - 1)` in threads released together, each on its own
    database connection; returns what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run(worker: int) -> None:
        try:
            start.wait()
            work(worker)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        if thread.is_alive():
            errors.append(TimeoutError(f"{thread.name} still running after 120 s"))
    return errors


pytest_plugins = ["tests.api_support"]
