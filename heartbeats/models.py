"""Tables of cronmonitor: jobs and their heartbeats, ping events, alerts and checker runs."""

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
    def has_schedule(self) -> bool:
        return bool(self.period or self.cron)


class AlertSilence(models.Model):
    """The one "Silence all alerts" switch: no alert is decided before `until`.

    A single row (pk 1), so the admin and the checker read one value; alerts due when it ends
    are decided by the next pass, as nothing else was changed.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"alerts silenced until {self.until:%Y-%m-%d %H:%M} UTC" if self.until else "on"


class EventKind(models.TextChoices):
    START = "start", "Start"
    SUCCESS = "success", "Success"
    FAIL = "fail", "Failure"
    LOG = "log", "Log"


class PingEvent(models.Model):
    """One signal received for a job: kept per job, newest first, capped by the checker."""

    job = models.ForeignKey(JobHeartbeat, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=8, choices=EventKind.choices)
    rid = models.UUIDField(null=True, blank=True)
    exit_status = models.SmallIntegerField(null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)
    body = models.TextField(blank=True)
    remote_addr = models.CharField(max_length=45, blank=True)
    # The machine's own name, as `beat` reports it; HTTP pings leave it blank.
    host = models.CharField(max_length=255, blank=True, default="", db_default="")
    method = models.CharField(max_length=8, blank=True, default="", db_default="")
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "-created_at"], name="event_job_created_idx"),
            models.Index(fields=["created_at"], name="event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.kind} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class AlertKind(models.TextChoices):
    DOWN = "down", "Down (no heartbeat)"
    FAILED = "failed", "Failed"
    HUNG = "hung", "Started, not finished"
    RECOVERY = "recovery", "Recovered"
    OUTAGE = "outage", "Monitoring outage"
    TEST = "test", "Test"


PROBLEM_KINDS = (AlertKind.DOWN, AlertKind.FAILED, AlertKind.HUNG)


class Alert(models.Model):
    """One decision to notify, about one job (or none, for outage and test messages).

    `done` turns true when every channel's delivery reached a final state; at most one
    unfinished problem alert may exist per job, which the database enforces.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(
        JobHeartbeat, on_delete=models.CASCADE, related_name="alerts", null=True, blank=True
    )
    kind = models.CharField(max_length=10, choices=AlertKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=10, default="cron")
    details = models.JSONField(default=dict, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="alert_created_idx"),
            models.Index(fields=["job", "-created_at"], name="alert_job_created_idx"),
            # The sweep that closes open alerts with nothing pending reads only these.
            models.Index(fields=["created_at"], name="alert_open_idx", condition=Q(done=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(done=False, kind__in=["down", "failed", "hung"]),
                name="one_open_problem_alert_per_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} alert for {self.job_id or 'cronmonitor'}"


class Channel(models.TextChoices):
    SLACK = "slack", "Slack"
    EMAIL = "email", "Email"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class AlertDelivery(models.Model):
    """One alert on one channel: the durable record a retry is made from."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    state = models.CharField(
        max_length=8, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The key of the digest this delivery was last sent in, reused while the digest is the same.
    idempotency_key = models.CharField(max_length=80, blank=True, default="", db_default="")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "alert deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel"], name="one_delivery_per_channel"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_idx",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["created_at"], name="delivery_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery of {self.alert_id}: {self.state}"


class ChannelStatus(models.Model):
    """A channel found broken by a permanent error (revoked key, deleted webhook)."""

    channel = models.CharField(primary_key=True, max_length=8, choices=Channel.choices)
    broken_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "channel statuses"

    def __str__(self) -> str:
        return f"{self.channel}: {'broken' if self.broken_since else 'ok'}"


class RunOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class CheckRun(models.Model):
    """One pass of the checker: the history behind the summary page and /healthz."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, default="cron")
    dry_run = models.BooleanField(default=False)
    outcome = models.CharField(max_length=8, choices=RunOutcome.choices, default=RunOutcome.RUNNING)
    total_jobs = models.PositiveIntegerField(default=0)
    # Of this run's problems, how many were stale: not the summary's stale count (paused excluded).
    stale_jobs = models.PositiveIntegerField(default=0)
    alerts_sent = models.PositiveIntegerField(default=0)
    suppressed_alerts = models.PositiveIntegerField(default=0)
    failed_alerts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    host = models.CharField(max_length=255, blank=True)
    # Set when this run suspected a monitoring outage: no down alerts until then.
    grace_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"check at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.outcome})"


class PrunedTotal(models.Model):
    """What retention deleted of one Prometheus counter (`reporting/counters.py`): the offset that
    keeps the exported total from going down when the rows it counts are pruned."""

    metric = models.CharField(max_length=40)
    label = models.CharField(max_length=40, blank=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metric", "label"], name="one_pruned_total_per_counter")
        ]

    def __str__(self) -> str:
        return f"{self.metric}{{{self.label}}} pruned: {self.value}"
