"""A job set to alert no channel at all: the management API's `"channels": ""`."""

from django.db import migrations, models

from heartbeats import job_count


def restore_job_count(apps, schema_editor):
    """SQLite rebuilt the jobs table for the new column, dropping its counting triggers."""
    job_count.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("heartbeats", "0013_maintenance_windows"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobheartbeat",
            name="no_channels",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Watched and shown, but its alerts go to no channel at all.",
                verbose_name="alert no channel",
            ),
        ),
        migrations.RunPython(restore_job_count, migrations.RunPython.noop),
    ]
