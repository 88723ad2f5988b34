"""Channels kept in the database, jobs naming them, and deliveries keyed "slack", "email" (the
channels from the environment, as before) or a channel's id: existing rows keep their meaning."""

import django.utils.timezone
import uuid
from django.db import migrations, models

from heartbeats import job_count


def restore_job_count(apps, schema_editor):
    """SQLite rebuilt the jobs table for 0010's tags column, dropping its counting triggers."""
    job_count.install(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('heartbeats', '0011_api'),
    ]

    operations = [
        migrations.CreateModel(
            name='Channel',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=100, unique=True)),
                ('kind', models.CharField(choices=[('slack', 'Slack'), ('email', 'Email'), ('webhook', 'Webhook'), ('pagerduty', 'PagerDuty'), ('msteams', 'Microsoft Teams')], max_length=10)),
                ('notify_down', models.BooleanField(default=True, verbose_name='notify on problems')),
                ('notify_up', models.BooleanField(default=True, verbose_name='notify on recoveries')),
                ('is_default', models.BooleanField(default=False, help_text='Used by jobs that name no channel and match no tag.', verbose_name='default')),
                ('tags', models.CharField(blank=True, default='', help_text='Jobs carrying any of these space-separated tags alert here.', max_length=500)),
                ('config', models.JSONField(blank=True, default=dict)),
                ('secrets_token', models.TextField(blank=True, default='', editable=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AlterField(
            model_name='alertdelivery',
            name='channel',
            field=models.CharField(max_length=36),
        ),
        migrations.AlterField(
            model_name='channelstatus',
            name='channel',
            field=models.CharField(max_length=36, primary_key=True, serialize=False),
        ),
        migrations.AddField(
            model_name='jobheartbeat',
            name='channels',
            field=models.ManyToManyField(blank=True, help_text="Alert channels named for this job; none: its tags' channels, or the defaults.", related_name='jobs', to='heartbeats.channel'),
        ),
        migrations.RunPython(restore_job_count, migrations.RunPython.noop),
    ]
