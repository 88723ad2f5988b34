"""Safe defaults: DEBUG off unless asked for, persistent PostgreSQL connections, an
every-minute checker; each read afresh from an operator's environment."""

from __future__ import annotations

import subprocess

import pytest

from tests.settings_support import read_settings, refusal

GOOD_KEY = "k8J2vQ9xT4mN7pL1sR6wY3zB5cF0hG8dA2eU9iO4-Xq7Rt1Lp0Zs3Wn"
POSTGRES = "postgres://cronmonitor@127.0.0.1:5432/cm"


@pytest.fixture
def deployment(monkeypatch):
    """Only what an operator's .env would hold: no DEBUG unless given (the suite sets it)."""
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    return monkeypatch


def test_without_debug_the_development_key_is_refused_in_one_line(deployment):
    line = refusal(deployment, "SECRET_KEY")
    assert "when DEBUG is off (the default)" in line
    assert "set DEBUG=true" in line


def test_debug_is_off_by_default(deployment):
    assert read_settings(deployment, SECRET_KEY=GOOD_KEY)["DEBUG"] is False
    assert read_settings(deployment, DEBUG="true")["DEBUG"] is True


def test_the_checker_runs_every_minute_by_default(deployment):
    found = read_settings(deployment, DEBUG="true")
    assert (found["HEALTHCHECK_SCHEDULE"], found["CRONJOBS"][0][0]) == ("* * * * *", "* * * * *")


@pytest.mark.parametrize(
    ("env", "max_age", "health_checks"),
    [
        ({}, 60, True),
        ({"DB_CONN_MAX_AGE": "0"}, 0, True),
        ({"DB_POOL": "true"}, 0, False),  # the pool keeps connections; Django must not
    ],
)
def test_postgresql_keeps_connections_by_default(deployment, env, max_age, health_checks):
    # Reading the settings does not connect, so no server is needed.
    db = read_settings(deployment, DEBUG="true", DATABASE_URL=POSTGRES, **env)["DATABASES"]
    found = (db["default"].get("CONN_MAX_AGE", 0), db["default"].get("CONN_HEALTH_CHECKS", False))
    assert found == (max_age, health_checks)


def test_make_run_turns_debug_on_for_each_of_its_commands():
    done = subprocess.run(
        ["make", "-n", "-o", ".venv/.runtime", "run"], capture_output=True, text=True, check=True
    )
    commands = [line for line in done.stdout.splitlines() if "/python manage.py " in line]
    assert len(commands) == 3
    assert all(line.startswith("DEBUG=true ") for line in commands)
