"""`check --deploy` is clean with the production settings docs/operations.md documents."""

from __future__ import annotations

import os
import subprocess
import sys

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k8J2vQ9xT4mN7pL1sR6wY3zB5cF0hG8dA2eU9iO4-Xq7Rt1Lp0Zs3Wn",
    "ALLOWED_HOSTS": "cron.example.com",
    "BEHIND_HTTPS_PROXY": "true",
    "SITE_URL": "https://cron.example.com",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x",
    "CRONMONITOR_ENV_FILE": "/dev/null",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_check_deploy_is_clean_with_documented_production_settings():
    done = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_debug_off_without_a_real_secret_key_fails_at_start_naming_it():
    done = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert done.returncode != 0
    assert "SECRET_KEY must be set to a random value of 50+ characters" in done.stderr


def test_a_wrong_value_names_its_variable():
    done = manage("check", **{**PRODUCTION, "STALE_AFTER_HOURS": "soon"})
    assert done.returncode != 0
    assert "STALE_AFTER_HOURS must be a number" in done.stderr
    done = manage("check", **{**PRODUCTION, "HEALTHCHECK_SCHEDULE": "every day"})
    assert "HEALTHCHECK_SCHEDULE must be a crontab expression" in done.stderr


def test_the_models_need_no_migration_that_is_not_written():
    done = manage("makemigrations", "--check", "--dry-run", **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes detected" in done.stdout


def test_healthz_and_pings_are_served_over_http_and_nothing_else():
    """Behind the proxy, plain HTTP is redirected except for /healthz (load balancers) and
    /ping/ (a redirect loses a POST's body); the exemptions match whole paths."""
    probe = (
        "from django.test import Client; c = Client(HTTP_HOST='cron.example.com'); "
        "print([c.get(path).get('Location') for path in ('/healthz', '/ping/x', '/healthz%0A')])"
    )
    done = manage("shell", "--no-imports", "-c", probe, **PRODUCTION)
    assert done.stdout.strip() == "[None, None, 'https://cron.example.com/healthz%0A']", done.stderr
