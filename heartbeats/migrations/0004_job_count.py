"""The job counter and its triggers (heartbeats/job_count.py says why and how)."""

from django.db import migrations

from heartbeats import job_count


def install(apps, schema_editor):
    job_count.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    job_count.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("heartbeats", "0003_delivery_idempotency_key"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
