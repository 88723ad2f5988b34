"""`manage.py beat NAME`: record a heartbeat from a host that has the app (runbook's
update_job_heartbeat). Runs inside every cron job, so it imports only what it needs."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from heartbeats import services


class Command(BaseCommand):
    help = "Record a heartbeat for a job, creating the job on its first beat."
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="job name: 1-128 of letters, digits, . _ - :")
        parser.add_argument("--status", default=None, help="one word, default 'healthy'")
        parser.add_argument("--metadata", default=None, help='a JSON object, e.g. {"rows": 42}')

    def handle(self, *args, name: str, status: str | None, metadata: str | None, **options):
        try:
            parsed = services.parse_metadata(metadata) if metadata is not None else {}
            services.record_signal(
                job_name=name,
                status="healthy" if status is None else status,
                metadata=parsed,
                now=timezone.now(),
            )
        except services.InvalidSignal as exc:
            raise CommandError(str(exc), returncode=2) from None
        except (OperationalError, InterfaceError) as exc:
            raise CommandError(f"database unavailable: {_first_line(exc)}", returncode=3) from None
        except DatabaseError as exc:
            raise CommandError(f"database error: {_first_line(exc)}", returncode=3) from None
        if options["verbosity"] > 1:
            self.stdout.write(f"Recorded heartbeat for {name}")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
