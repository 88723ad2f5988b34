"""Entry points that django-crontab's `crontab run` calls from the crontab."""

from __future__ import annotations

from django.core.management import call_command


def run_healthcheck() -> None:
    """`crontab run` exits 0 whatever happens; run_check records failures where operators look."""
    call_command("run_healthcheck", trigger="cron")


def prune_heartbeats() -> None:
    call_command("prune_heartbeats", verbosity=0)
