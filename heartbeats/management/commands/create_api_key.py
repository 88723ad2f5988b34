"""`manage.py create_api_key NAME [--read-only]`: make a management API key and print it once
(for scripts and first set-up; the admin makes them too). Only its hash is stored."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from heartbeats.access import keys


class Command(BaseCommand):
    help = "Create a management API key and print it once; only its hash is kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="what the key is for, e.g. terraform")
        parser.add_argument(
            "--read-only", action="store_true", help="the key can list and read, not change"
        )

    def handle(self, *args, name: str, read_only: bool, **options) -> None:
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("the key's name must be 1 to 100 characters", returncode=2)
        issued = keys.issue(name=name, read_only=read_only, now=timezone.now())
        kind = "read-only" if read_only else "read-write"
        self.stderr.write(f"Created {kind} API key {name!r}; it is shown only now:")
        self.stdout.write(issued.key)
