"""A number, boolean, log level or database URL that would crash later is refused at start,
in one line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**os.environ, "CRONMONITOR_ENV_FILE": "/dev/null", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_refused(done: subprocess.CompletedProcess, name: str, *expected: str) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"Configuration error: {name} ")
    for text in expected:
        assert text in line
    return line


HOURS = "at most 8784 (366 days)"
MINUTES = "at most 527040 (366 days)"
WAIT = "at most 3600 (1 hour)"


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("STALE_AFTER_HOURS", "nan", HOURS),
        ("STALE_AFTER_HOURS", "inf", HOURS),
        ("STALE_AFTER_HOURS", "1e400", HOURS),
        ("STALE_AFTER_HOURS", "1e12", HOURS),
        ("STALE_AFTER_HOURS", "8784.5", HOURS),
        ("ALERT_SUPPRESSION_HOURS", "nan", HOURS),
        ("ALERT_SUPPRESSION_HOURS", "1e12", HOURS),
        ("DEFAULT_GRACE_MINUTES", "inf", MINUTES),
        ("DEFAULT_GRACE_MINUTES", "-inf", MINUTES),
        ("OUTAGE_GRACE_MINUTES", "nan", MINUTES),
        ("RECOVERY_WINDOW_MINUTES", "nan", MINUTES),
        ("RECOVERY_WINDOW_MINUTES", "527041", MINUTES),
        ("OUTAGE_SHARE", "nan", "greater than 0 and at most 1,"),
        ("OUTAGE_SHARE", "2", "greater than 0 and at most 1,"),
        ("OUTAGE_SHARE", "0", "greater than 0 and at most 1,"),
        ("ALERT_CONNECT_TIMEOUT", "nan", WAIT),
        ("ALERT_READ_TIMEOUT", "1e999", WAIT),
        ("ALERT_RETRY_BASE_SECONDS", "inf", WAIT),
        ("ALERT_RETRY_AFTER_MAX_SECONDS", "nan", WAIT),
        ("ALERT_RETRIES_PER_RUN", "2000", "at most 10,"),
        ("ALERT_DELIVERY_LEASE_SECONDS", "99999999999999", "at most 31622400 (366 days)"),
        ("RETENTION_EVENT_DAYS", "99999999999", "at most 36600 (100 years)"),
        ("RETENTION_JOB_SILENT_DAYS", "36601", "at most 36600 (100 years)"),
        ("PING_EVENTS_KEPT", "99999999999999999999", "at most 1000000,"),
        ("PING_BODY_LIMIT", "10000001", "at most 10000000 (10 MB)"),
    ],
)
def test_a_number_out_of_bounds_is_one_line_naming_it(name, value, expected):
    assert_refused(manage("check", **{name: value}), name, expected)


def test_the_healthcheck_refuses_nan_before_it_starts():
    done = manage("run_healthcheck", "--dry-run", STALE_AFTER_HOURS="nan")
    assert_refused(done, "STALE_AFTER_HOURS", HOURS, "not nan")


def test_the_largest_allowed_values_start():
    done = manage(
        "check",
        STALE_AFTER_HOURS="8784",
        DEFAULT_GRACE_MINUTES="527040",
        OUTAGE_SHARE="1",
        ALERT_READ_TIMEOUT="3600",
        ALERT_RETRIES_PER_RUN="10",
        RETENTION_EVENT_DAYS="36600",
    )
    assert done.returncode == 0, done.stderr


def test_pool_and_database_waits_are_bounded():
    # `check` does not connect, so no PostgreSQL server is needed to read these.
    env = {"DATABASE_URL": "postgres://cronmonitor@127.0.0.1:5432/cm"}
    done = manage("check", **env, DB_CONNECT_TIMEOUT="86400")
    assert_refused(done, "DB_CONNECT_TIMEOUT", WAIT)
    done = manage("check", **env, DB_CONN_MAX_AGE="99999999999")
    assert_refused(done, "DB_CONN_MAX_AGE", "at most 31622400 (366 days)")
    done = manage("check", **env, DB_POOL="true", DB_POOL_TIMEOUT="nan")
    assert_refused(done, "DB_POOL_TIMEOUT", WAIT)
    done = manage("check", **env, DB_POOL="true", DB_POOL_MIN_SIZE="5", DB_POOL_MAX_SIZE="2")
    assert_refused(done, "DB_POOL_MAX_SIZE", "at least DB_POOL_MIN_SIZE (5)")


@pytest.mark.parametrize("value", ["1,5", "12h"])
def test_a_number_with_other_characters_is_refused_not_read_leniently(value):
    # django-environ's own float cast would read these as 1.5 and 12.
    done = manage("check", STALE_AFTER_HOURS=value)
    assert_refused(done, "STALE_AFTER_HOURS", f"must be a number, not {value!r}")


def test_booleans_take_true_false_yes_no_on_off_and_1_0_in_any_case():
    read = "from django.conf import settings as s; print(s.BEHIND_HTTPS_PROXY, s.ALERT_THROTTLE)"
    done = manage("shell", "-c", read, BEHIND_HTTPS_PROXY=" On ", ALERT_THROTTLE="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["True", "False"]  # blank is false, not the default


@pytest.mark.parametrize("value", ["ok", "2"])
def test_an_unknown_boolean_is_refused_not_read_as_false(value):
    done = manage("check", NOTIFY_ON_RECOVERY=value)
    assert_refused(done, "NOTIFY_ON_RECOVERY", f"must be true or false, not {value!r}")


@pytest.mark.parametrize("value", ["debug", "Warning", " error ", "CRITICAL"])
def test_log_level_takes_any_case(value):
    done = manage(
        "shell", "-c", "import logging; print(logging.getLogger('heartbeats').level)",
        LOG_LEVEL=value,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == str(getattr(logging, value.strip().upper()))


@pytest.mark.parametrize("value", ["LOUD", "warn", "10"])
def test_an_unknown_log_level_is_one_line_naming_the_levels(value):
    line = assert_refused(manage("check", LOG_LEVEL=value), "LOG_LEVEL")
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in line
    assert repr(value) in line


@pytest.mark.parametrize(
    "url, scheme",
    [
        ("foo://", "not foo://"),
        ("mysql://admin:hunter2pw@db.example.com/cm", "not mysql://"),
        ("admin:hunter2pw@db.example.com/cm", ""),
        ("", ""),
    ],
)
def test_an_unsupported_database_url_names_the_supported_schemes(url, scheme):
    line = assert_refused(manage("check", DATABASE_URL=url), "DATABASE_URL", "sqlite://", scheme)
    assert "postgres://" in line
    assert "hunter2pw" not in line


@pytest.mark.parametrize(
    "url",
    [
        # An unescaped "/" in the password ends the host part: the password's start is the "port".
        "postgres://admin:hunter2pw/x@db.example.com:5432/cm",
        "postgresql://admin:hunter2pw@db.example.com:port/cm",
    ],
)
def test_a_malformed_database_url_never_shows_its_password(url):
    line = assert_refused(manage("check", DATABASE_URL=url), "DATABASE_URL", "postgres://")
    assert "hunter2pw" not in line
