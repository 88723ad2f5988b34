from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

JOB_COUNT_MIGRATION = ("heartbeats", "0004_job_count")


class HeartbeatsConfig(AppConfig):
    name = "heartbeats"
    verbose_name = "Cron monitor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from heartbeats.ops import system_checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(restore_job_count, sender=self)


def restore_job_count(sender, using: str, **kwargs) -> None:
    """Put the job counter's triggers back if a migration dropped them.

    SQLite rebuilds a table for most field changes, and its triggers go with the old table.
    """
    from django.db.migrations.recorder import MigrationRecorder

    from heartbeats import job_count

    connection = connections[using]
    if JOB_COUNT_MIGRATION in MigrationRecorder(connection).applied_migrations():
        job_count.install(connection)
