"""`manage.py send_test_alert`: the runbook's troubleshooting "Check 2", as the admin's button."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from heartbeats import config, delivery
from heartbeats.logging import redact


class Command(BaseCommand):
    help = "Send a clearly marked test message on every configured alert channel."

    def handle(self, *args, **options) -> None:
        if not config.configured_channels():
            raise CommandError(config.NO_CHANNEL_MESSAGE, returncode=2)
        outcomes = delivery.send_test_alert(now=timezone.now())
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
