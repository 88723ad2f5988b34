"""`manage.py prune_heartbeats`: the runbook's data retention, run daily from the crontab."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from heartbeats.redaction import first_line
from heartbeats.signals import retention


class Command(BaseCommand):
    help = (
        "Delete deprecated jobs (created long ago, overdue by their own schedule for long, not "
        "paused, no undelivered alert), and old ping events, finished alerts and check runs "
        "(ages from the RETENTION_* settings), in batches."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list jobs, count rows, delete nothing"
        )
        parser.add_argument("--batch-size", type=int, default=5000, help="rows per transaction")

    def handle(self, *args, dry_run: bool, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1", returncode=2)
        verbose = options["verbosity"] > 0 and not dry_run

        def progress(name: str, count: int) -> None:
            if verbose:
                self.stdout.write(f"  {name}: {count} deleted so far")

        now = timezone.now()
        try:
            if dry_run:
                for job in retention.would_remove(now=now):
                    self.stdout.write(f"  would remove {job.describe()}")
            result = retention.prune(
                now=now, dry_run=dry_run, batch_size=batch_size, progress=progress
            )
        except DatabaseError as exc:
            raise CommandError(f"database unavailable: {first_line(exc)}", returncode=3) from None
        self.stdout.write(result.summary_line(dry_run=dry_run))
