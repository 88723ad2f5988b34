"""A number, boolean, log level or database URL that would crash later is refused at start,
in one line. One subprocess checks how manage.py reports a refusal; the rest read
cronmonitor/settings.py in-process, with the variables given."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from tests.settings_support import read_settings, refusal

HOURS = "at most 8784 (366 days)"
MINUTES = "at most 527040 (366 days)"
WAIT = "at most 3600 (1 hour)"


@pytest.mark.parametrize(
    "name, value, expected",
    # Every bounded variable once; NaN, infinities, zero and just over the bound once each.
    [
        ("STALE_AFTER_HOURS", "nan", HOURS),
        ("STALE_AFTER_HOURS", "inf", HOURS),
        ("STALE_AFTER_HOURS", "8784.5", HOURS),
        ("ALERT_SUPPRESSION_HOURS", "1e12", HOURS),
        ("DEFAULT_GRACE_MINUTES", "inf", MINUTES),
        ("DEFAULT_GRACE_MINUTES", "-inf", MINUTES),
        ("OUTAGE_GRACE_MINUTES", "nan", MINUTES),
        ("RECOVERY_WINDOW_MINUTES", "527041", MINUTES),
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
def test_a_number_out_of_bounds_is_one_line_naming_it(monkeypatch, name, value, expected):
    refusal(monkeypatch, name, expected, **{name: value})


def test_the_healthcheck_refuses_nan_before_it_starts_in_one_line_with_status_2():
    done = subprocess.run(
        [sys.executable, "manage.py", "run_healthcheck", "--dry-run"],
        env={**os.environ, "CRONMONITOR_ENV_FILE": "/dev/null", "STALE_AFTER_HOURS": "nan"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("Configuration error: STALE_AFTER_HOURS ")
    assert HOURS in line
    assert "not nan" in line


def test_the_largest_allowed_values_start(monkeypatch):
    read_settings(
        monkeypatch,
        STALE_AFTER_HOURS="8784",
        DEFAULT_GRACE_MINUTES="527040",
        OUTAGE_SHARE="1",
        ALERT_READ_TIMEOUT="3600",
        ALERT_RETRIES_PER_RUN="10",
        RETENTION_EVENT_DAYS="36600",
    )


@pytest.mark.parametrize(
    "name, expected, env",
    [
        ("DB_CONNECT_TIMEOUT", WAIT, {"DB_CONNECT_TIMEOUT": "86400"}),
        ("DB_CONN_MAX_AGE", "at most 31622400 (366 days)", {"DB_CONN_MAX_AGE": "99999999999"}),
        ("DB_POOL_TIMEOUT", WAIT, {"DB_POOL": "true", "DB_POOL_TIMEOUT": "nan"}),
        (
            "DB_POOL_MAX_SIZE",
            "at least DB_POOL_MIN_SIZE (5)",
            {"DB_POOL": "true", "DB_POOL_MIN_SIZE": "5", "DB_POOL_MAX_SIZE": "2"},
        ),
    ],
)
def test_pool_and_database_waits_are_bounded(monkeypatch, name, expected, env):
    # Reading the settings does not connect, so no PostgreSQL server is needed.
    postgres = "postgres://cronmonitor@127.0.0.1:5432/cm"
    refusal(monkeypatch, name, expected, DATABASE_URL=postgres, **env)


@pytest.mark.parametrize("value", ["1,5", "12h"])
def test_a_number_with_other_characters_is_refused_not_read_leniently(monkeypatch, value):
    # django-environ's own float cast would read these as 1.5 and 12.
    expected = f"must be a number, not {value!r}"
    refusal(monkeypatch, "STALE_AFTER_HOURS", expected, STALE_AFTER_HOURS=value)


def test_booleans_take_true_false_yes_no_on_off_and_1_0_in_any_case(monkeypatch):
    read = read_settings(monkeypatch, BEHIND_HTTPS_PROXY=" On ", ALERT_THROTTLE="")
    # Blank is false, not the default.
    assert (read["BEHIND_HTTPS_PROXY"], read["ALERT_THROTTLE"]) == (True, False)


@pytest.mark.parametrize("value", ["ok", "2"])
def test_an_unknown_boolean_is_refused_not_read_as_false(monkeypatch, value):
    expected = f"must be true or false, not {value!r}"
    refusal(monkeypatch, "NOTIFY_ON_RECOVERY", expected, NOTIFY_ON_RECOVERY=value)


@pytest.mark.parametrize("value", ["debug", "Warning", " error ", "CRITICAL"])
def test_log_level_takes_any_case(monkeypatch, value):
    level = read_settings(monkeypatch, LOG_LEVEL=value)["LOGGING"]["loggers"]["heartbeats"]["level"]
    assert logging.getLevelName(level) == getattr(logging, value.strip().upper())


@pytest.mark.parametrize("value", ["LOUD", "warn", "10"])
def test_an_unknown_log_level_is_one_line_naming_the_levels(monkeypatch, value):
    line = refusal(monkeypatch, "LOG_LEVEL", LOG_LEVEL=value)
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
def test_an_unsupported_database_url_names_the_supported_schemes(monkeypatch, url, scheme):
    line = refusal(monkeypatch, "DATABASE_URL", "sqlite://", scheme, DATABASE_URL=url)
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
def test_a_malformed_database_url_never_shows_its_password(monkeypatch, url):
    line = refusal(monkeypatch, "DATABASE_URL", "postgres://", DATABASE_URL=url)
    assert "hunter2pw" not in line
