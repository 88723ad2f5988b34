"""One signal received for a job (start, success, failure, log)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from heartbeats.models.jobs import JobHeartbeat


class EventKind(models.TextChoices):
    START = "start", "Start"
    SUCCESS = "success", "Success"
    FAIL = "fail", "Failure"
    LOG = "log", "Log"
    # Received, but held back by the job's keyword filter or allowed methods: no state change.
    IGNORED = "ign", "Ignored"


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
    # The job's n-th signal (`JobHeartbeat.n_pings` when it arrived), as the API numbers pings.
    n = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["job", "-created_at"], name="event_job_created_idx"),
            models.Index(fields=["created_at"], name="event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.kind} at {self.created_at:%Y-%m-%d %H:%M:%S}"
