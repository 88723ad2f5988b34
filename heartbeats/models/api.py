"""The management API's tables: keys (stored hashed), their per-minute request counts, and
the flips (changes between up and down) it reports."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from heartbeats.models.jobs import JobHeartbeat


class ApiKey(models.Model):
    """A key for the management API. Only its SHA-256 is stored: the key is shown once."""

    name = models.CharField(max_length=100)
    # The first characters, shown so an operator can tell keys apart; not enough to use one.
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(
        default=False, help_text="Read-only keys can list and read, never change anything."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ApiRequestCount(models.Model):
    """Requests one key made in one minute: the rate limit's counter, shared by all processes."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "minute"], name="one_count_per_key_minute")
        ]

    def __str__(self) -> str:
        return f"{self.count} requests at {self.minute:%Y-%m-%d %H:%M}"


class FlipStatus(models.TextChoices):
    NEW = "new", "New"
    UP = "up", "Up"
    DOWN = "down", "Down"


class Flip(models.Model):
    """One change of a job between up and down: when, from, to, and why."""

    job = models.ForeignKey(JobHeartbeat, on_delete=models.CASCADE, related_name="flips")
    created_at = models.DateTimeField(default=timezone.now)
    old_status = models.CharField(max_length=8, choices=FlipStatus.choices)
    new_status = models.CharField(max_length=8, choices=FlipStatus.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "-created_at"], name="flip_job_created_idx"),
            models.Index(fields=["created_at"], name="flip_created_idx"),
        ]

    def __str__(self) -> str:
        moment = f"{self.created_at:%Y-%m-%d %H:%M}"
        return f"{self.job_id}: {self.old_status} → {self.new_status} at {moment}"
