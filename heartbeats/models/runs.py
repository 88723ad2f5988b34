"""The checker's history (check runs) and retention's counter offsets."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
