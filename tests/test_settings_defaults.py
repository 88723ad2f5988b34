"""Safe defaults: DEBUG off unless asked for, persistent PostgreSQL connections, an
every-minute checker; each read by a fresh process, as an operator's deployment reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_settings_limits import assert_refused

GOOD_KEY = "k8J2vQ9xT4mN7pL1sR6wY3zB5cF0hG8dA2eU9iO4-Xq7Rt1Lp0Zs3Wn"
POSTGRES = "postgres://cronmonitor@127.0.0.1:5432/cm"
READ = (
    "import json; from django.conf import settings as s; db = s.DATABASES['default']; "
    "print(json.dumps({'debug': s.DEBUG, 'schedule': s.HEALTHCHECK_SCHEDULE, "
    "'cronjob': s.CRONJOBS[0][0], 'max_age': db.get('CONN_MAX_AGE', 0), "
    "'health_checks': db.get('CONN_HEALTH_CHECKS', False)}))"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py with only what an operator's .env would hold: no DEBUG unless given."""
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**base, "CRONMONITOR_ENV_FILE": "/dev/null", **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def read_settings(**env: str) -> dict:
    done = manage("shell", "-v0", "-c", READ, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_without_debug_the_development_key_is_refused_in_one_line():
    line = assert_refused(manage("check"), "SECRET_KEY")
    assert "when DEBUG is off (the default)" in line
    assert "set DEBUG=true" in line


def test_debug_is_off_by_default():
    assert read_settings(SECRET_KEY=GOOD_KEY)["debug"] is False
    assert read_settings(DEBUG="true")["debug"] is True


def test_the_checker_runs_every_minute_by_default():
    found = read_settings(DEBUG="true")
    assert (found["schedule"], found["cronjob"]) == ("* * * * *", "* * * * *")


@pytest.mark.parametrize(
    ("env", "max_age", "health_checks"),
    [
        ({}, 60, True),
        ({"DB_CONN_MAX_AGE": "0"}, 0, True),
        ({"DB_POOL": "true"}, 0, False),  # the pool keeps connections; Django must not
    ],
)
def test_postgresql_keeps_connections_by_default(env, max_age, health_checks):
    # Reading the settings does not connect, so no server is needed.
    found = read_settings(DEBUG="true", DATABASE_URL=POSTGRES, **env)
    assert (found["max_age"], found["health_checks"]) == (max_age, health_checks)


def test_make_run_turns_debug_on_for_each_of_its_commands():
    done = subprocess.run(
        ["make", "-n", "-o", ".venv/.runtime", "run"], capture_output=True, text=True, check=True
    )
    commands = [line for line in done.stdout.splitlines() if "/python manage.py " in line]
    assert len(commands) == 3
    assert all(line.startswith("DEBUG=true ") for line in commands)
