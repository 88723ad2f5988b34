"""Who sent a ping (the host name `beat` reports, the HTTP method), and job names unique
whatever their case.

Jobs whose names differ only in case cannot be merged safely by a migration (which one's
history and schedule wins is the operator's call), so the migration stops and lists them;
rename or delete all but one of each group (admin, or `JobHeartbeat.objects.filter(...)`), then
migrate again.
"""

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_case_duplicates(apps, schema_editor):
    jobs = apps.get_model("heartbeats", "JobHeartbeat").objects.using(schema_editor.connection.alias)
    clashes = (
        jobs.annotate(lowered=Lower("job_name"))
        .values("lowered")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("lowered", flat=True)
    )
    groups = []
    for lowered in clashes.order_by("lowered"):
        names = jobs.filter(job_name__iexact=lowered).order_by("job_name")
        groups.append(", ".join(names.values_list("job_name", flat=True)))
    if groups:
        raise RuntimeError(
            "Job names are now case-insensitive, and these jobs differ only in case: "
            + "; ".join(groups)
            + ". Rename or delete all but one of each group, then run migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("heartbeats", "0006_retention_pruned_totals"),
    ]

    operations = [
        migrations.AddField(
            model_name="pingevent",
            name="host",
            field=models.CharField(blank=True, db_default="", default="", max_length=255),
        ),
        migrations.AddField(
            model_name="pingevent",
            name="method",
            field=models.CharField(blank=True, db_default="", default="", max_length=8),
        ),
        migrations.RunPython(refuse_case_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="jobheartbeat",
            constraint=models.UniqueConstraint(
                Lower("job_name"),
                name="job_name_lower_unique",
                violation_error_message="A job with this name (in any case) already exists.",
            ),
        ),
    ]
