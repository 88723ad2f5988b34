"""`manage.py send_test_alert [--channel NAME]`: the runbook's troubleshooting "Check 2", as
the admin's button."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from heartbeats.alerts import test_alert
from heartbeats.domain import policy
from heartbeats.redaction import first_line, redact


class Command(BaseCommand):
    help = "Send a clearly marked test message on every alert channel, or on the one named."
    # Like run_healthcheck: the checks would read the database before the one-line answer.
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--channel", default="", help="The name of the one channel to test.")

    def handle(self, *args, **options) -> None:
        try:
            # Connect first, so an unreachable database sends no test message it cannot record.
            connection.ensure_connection()
            outcomes = test_alert.send_test_alert(now=timezone.now(), channel=options["channel"])
        except DatabaseError as exc:
            raise CommandError(f"database unavailable: {first_line(exc)}", returncode=3) from None
        except test_alert.UnknownChannel:
            name = options["channel"][:100]
            raise CommandError(f"No alert channel is named {name!r}.", returncode=2) from None
        if not outcomes:
            raise CommandError(policy.NO_CHANNEL_MESSAGE, returncode=2)
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
