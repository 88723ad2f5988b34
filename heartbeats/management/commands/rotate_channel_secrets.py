"""`manage.py rotate_channel_secrets`: after putting a new key first in CHANNEL_SECRET_KEY."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from heartbeats.alerts import channel_keys


class Command(BaseCommand):
    help = "Encrypt every alert channel's secrets again with CHANNEL_SECRET_KEY's first key."

    def handle(self, *args, **options) -> None:
        rotated, unreadable = channel_keys.rotate_secrets()
        self.stdout.write(f"Re-encrypted the secrets of {rotated} channel(s).")
        if unreadable:
            raise CommandError(
                f"No configured key opens the secrets of {', '.join(unreadable)}: restore the "
                "old key in CHANNEL_SECRET_KEY (after the new one) and run this again, or enter "
                "those secrets again in the admin.",
                returncode=1,
            )
