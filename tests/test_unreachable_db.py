"""Database down: send_test_alert says so in one line (exit 3); /metrics and /summary.json
answer 503 with Retry-After instead of a server error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection

from tests.conftest import SLACK_SECRET_PATH, received

TOKEN = "summary-token-0123456789abcdef"
REFUSED = "connection to server at 127.0.0.1 failed: Connection refused"


def unreachable(execute, sql, params, many, context):
    raise OperationalError(REFUSED)


@pytest.mark.parametrize(
    "database_url",
    ["postgres://postgres@127.0.0.1:5999/x", "sqlite:////nonexistent-dir/cronmonitor.sqlite3"],
)
def test_send_test_alert_says_database_unavailable_in_one_line(httpserver, database_url):
    httpserver.expect_request(SLACK_SECRET_PATH, method="POST").respond_with_data("ok")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DB_CONNECT_TIMEOUT": "2",
        "CRONMONITOR_ENV_FILE": "/dev/null",
        "SLACK_WEBHOOK_URL": httpserver.url_for(SLACK_SECRET_PATH),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "send_test_alert"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CommandError: database unavailable: ")
    assert "Traceback" not in done.stderr
    assert "SECRET" not in done.stdout + done.stderr
    # Nothing is sent that could not be recorded.
    assert received(httpserver, SLACK_SECRET_PATH) == []


@pytest.fixture
def view_settings(settings):
    settings.SUMMARY_API_TOKEN = TOKEN
    settings.METRICS_TOKEN = ""
    return settings


def assert_unavailable(response) -> None:
    assert (response.status_code, response["Retry-After"]) == (503, "30")
    assert REFUSED not in response.content.decode()


@pytest.mark.parametrize("metrics_token", ["", "metrics-secret"])
def test_metrics_is_503_when_the_database_is_down(client, db, view_settings, metrics_token):
    view_settings.METRICS_TOKEN = metrics_token
    headers = {"Authorization": f"Bearer {metrics_token}"} if metrics_token else {}
    with connection.execute_wrapper(unreachable):
        response = client.get("/metrics", headers=headers)
    assert_unavailable(response)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"database unavailable, try again later"


def test_metrics_still_refuses_a_wrong_token_first(client, db, view_settings):
    view_settings.METRICS_TOKEN = "metrics-secret"
    with connection.execute_wrapper(unreachable):
        response = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 403


def test_summary_json_is_503_when_the_database_is_down_with_a_token(client, db, view_settings):
    with connection.execute_wrapper(unreachable):
        response = client.get("/summary.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert_unavailable(response)
    assert response.json() == {"error": "database unavailable"}


def test_summary_json_is_503_when_the_database_is_down_for_a_staff_session(
    client, db, view_settings
):
    user = get_user_model().objects.create_user("operator", is_staff=True)
    client.force_login(user)
    with connection.execute_wrapper(unreachable):
        response = client.get("/summary.json")
    assert_unavailable(response)
    assert response.json() == {"error": "database unavailable"}
