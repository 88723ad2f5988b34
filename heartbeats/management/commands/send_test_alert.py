"""`manage.py send_test_alert`: the runbook's troubleshooting "Check 2", as the admin's button."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from heartbeats.alerts import delivery
from heartbeats.domain import policy
from heartbeats.redaction import first_line, redact


class Command(BaseCommand):
    help = "Send a clearly marked test message on every configured alert channel."
    # Like run_healthcheck: the checks would read the database before the one-line answer.
    requires_system_checks: list = []

    def handle(self, *args, **options) -> None:
        if not policy.configured_channels():
            raise CommandError(policy.NO_CHANNEL_MESSAGE, returncode=2)
        try:
            # Connect first, so an unreachable database sends no test message it cannot record.
            connection.ensure_connection()
            outcomes = delivery.send_test_alert(now=timezone.now())
        except DatabaseError as exc:
            raise CommandError(f"database unavailable: {first_line(exc)}", returncode=3) from None
        for outcome in outcomes:
            if outcome.ok:
                self.stdout.write(self.style.SUCCESS(f"{outcome.channel}: delivered"))
            else:
                self.stdout.write(
                    self.style.ERROR(f"{outcome.channel}: failed: {redact(outcome.error)}")
                )
        failed = [outcome.channel for outcome in outcomes if not outcome.ok]
        if failed:
            raise CommandError(f"The test alert failed on {', '.join(failed)}.", returncode=1)
