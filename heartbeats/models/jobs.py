"""The monitored job: its last heartbeat, its schedule and its alert state."""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

# \A and \Z, not ^ and $: RegexValidator searches, and $ also matches before a final newline.
JOB_NAME_PATTERN = r"\A[A-Za-z0-9._:-]{1,128}\Z"
STATUS_PATTERN = r"\A[A-Za-z0-9_-]{1,32}\Z"

validate_job_name = RegexValidator(
    JOB_NAME_PATTERN,
    "A job name is 1 to 128 letters, digits, '.', '_', '-' or ':'.",
)
validate_status = RegexValidator(
    STATUS_PATTERN,
    "A status is one word of up to 32 letters, digits, '_' or '-'.",
)


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAIL = "fail", "Failure"


class JobHeartbeat(models.Model):
    """One monitored job: its last heartbeat, its schedule and its alert state.

    `due_at` (scheduled jobs only) and `run_deadline` are written when a signal arrives, so the
    checker finds every job needing attention with one indexed query instead of evaluating
    schedules row by row.
    """

    job_name = models.CharField(primary_key=True, max_length=128, validators=[validate_job_name])
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    last_run_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=32, default="healthy", validators=[validate_status])
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    last_alert_at = models.DateTimeField(null=True, blank=True, db_index=True)

    last_outcome = models.CharField(
        max_length=8, choices=Outcome.choices, default=Outcome.SUCCESS, editable=False
    )
    last_start_at = models.DateTimeField(null=True, blank=True, editable=False)
    run_deadline = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    last_duration = models.DurationField(null=True, blank=True, editable=False)
    n_runs = models.BigIntegerField(default=0, editable=False)
    paused = models.BooleanField(default=False)
    # True from a delivered problem alert until the recovery notice is queued.
    alerted = models.BooleanField(default=False, editable=False)
    # A successful run after the last alert ends its incident: a new problem is alerted at once.
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A fresh window (resume, bulk recover): the job is judged from here, not its last run.
    watched_since = models.DateTimeField(null=True, blank=True, editable=False)
    # The checker's incident record: when the current one opened, and the openings within
    # FLAP_WINDOW_HOURS (ISO times), from which flapping is judged.
    incident_opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    recent_incidents = models.JSONField(default=list, blank=True, null=True, editable=False)
    flapping = models.BooleanField(default=False, db_default=False, editable=False)

    period = models.DurationField(null=True, blank=True, help_text="Expected time between runs.")
    cron = models.CharField(max_length=100, blank=True, help_text="Cron expression, e.g. 0 2 * * *")
    tz = models.CharField("time zone", max_length=64, default="UTC")
    grace = models.DurationField(null=True, blank=True, help_text="Tolerated lateness.")
    due_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    # Space-separated, stored normalised by `domain.tags.normalize` (each tag once).
    tags = models.CharField(
        max_length=500, blank=True, default="", db_default="",
        help_text="Space-separated tags, e.g. <code>db nightly</code>.",
    )  # fmt: skip
    # Channels named explicitly; with those of its tags, else the default ones (alerts.routing).
    channels = models.ManyToManyField(
        "heartbeats.Channel", blank=True, related_name="jobs",
        help_text="Alert channels named for this job; none: its tags' channels, or the defaults.",
    )  # fmt: skip

    # The management API's check fields (Healthchecks' names); each has a database default so
    # the ping's raw upsert, which names its columns, leaves them as they are.
    display_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    # The API's `"channels": ""`: the job alerts nowhere, not even its tags' or the defaults.
    no_channels = models.BooleanField(
        "alert no channel", default=False, db_default=False,
        help_text="Watched and shown, but its alerts go to no channel at all.",
    )  # fmt: skip
    desc = models.TextField("description", blank=True, default="", db_default="")
    manual_resume = models.BooleanField(default=False, db_default=False)
    methods = models.CharField(max_length=4, blank=True, default="", db_default="")
    start_kw = models.CharField(max_length=200, blank=True, default="", db_default="")
    success_kw = models.CharField(max_length=200, blank=True, default="", db_default="")
    failure_kw = models.CharField(max_length=200, blank=True, default="", db_default="")
    filter_body = models.BooleanField(default=False, db_default=False)
    # Every signal counted, numbering its event (`PingEvent.n`), as Healthchecks numbers pings.
    n_pings = models.BigIntegerField(default=0, db_default=0, editable=False)
    # Down since the checker's last flip to down; a success ping flips it back up.
    flipped_down = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        db_table = "job_heartbeats"
        ordering = ["last_run_at"]
        verbose_name = "job"
        indexes = [
            models.Index(
                fields=["last_outcome"], name="job_failed_idx", condition=Q(last_outcome="fail")
            ),
            models.Index(fields=["alerted"], name="job_alerted_idx", condition=Q(alerted=True)),
        ]
        constraints = [
            # Names are case-insensitive: `Nightly-Backup` is the job `nightly-backup`.
            models.UniqueConstraint(
                Lower("job_name"),
                name="job_name_lower_unique",
                violation_error_message="A job with this name (in any case) already exists.",
            ),
        ]
        permissions = [
            ("silence_all_alerts", "Can silence the alerts of every job"),
            ("bulk_recover_jobs", "Can mark every stale job as recovered"),
        ]

    def __str__(self) -> str:
        return self.job_name

    @property
    def name(self) -> str:
        """The display name, or the job name when none was given."""
        return self.display_name or self.job_name

    @property
    def has_schedule(self) -> bool:
        return bool(self.period or self.cron)
