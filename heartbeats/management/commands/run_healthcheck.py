"""`manage.py run_healthcheck`: the runbook's cron-healthcheck, as a command."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from heartbeats.alerts import check_run
from heartbeats.domain import policy
from heartbeats.redaction import first_line


class Command(BaseCommand):
    help = "Find stale jobs and alert on every configured channel (anti-spam applies)."
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--trigger",
            choices=["cron", "manual", "emergency"],
            default="manual",
            help="manual (default) from a shell; the crontab line passes cron",
        )
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, trigger: str, dry_run: bool, json: bool, **options) -> None:
        try:
            result = check_run.run_check(now=timezone.now(), trigger=trigger, dry_run=dry_run)
        except DatabaseError as exc:
            raise CommandError(f"database unavailable: {first_line(exc)}", returncode=3) from None
        self.stdout.write(_json(result) if json else result.summary_line())
        if dry_run and not json:
            for outcome in result.jobs:
                self.stdout.write(f"  {outcome.job_name}: {outcome.action} ({outcome.detail})")
        if not result.channels:
            raise CommandError(policy.NO_CHANNEL_MESSAGE, returncode=2)
        if result.failed_alerts:
            raise CommandError(
                f"{result.failed_alerts} alert(s) could not be delivered: "
                f"{'; '.join(result.errors)}",
                returncode=1,
            )


def _json(result: check_run.CheckResult) -> str:
    return json.dumps(result.as_dict(), sort_keys=True)
