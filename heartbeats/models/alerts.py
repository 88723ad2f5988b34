"""Alerts and their per-channel deliveries: the outbox the delivery loop works from."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from heartbeats.models.jobs import JobHeartbeat


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


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class AlertDelivery(models.Model):
    """One alert on one channel: the durable record a retry is made from. `channel` is "slack"
    or "email" for a channel from the environment, else the id of a `Channel` row."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=36)
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

    channel = models.CharField(primary_key=True, max_length=36)  # as AlertDelivery.channel
    broken_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "channel statuses"

    def __str__(self) -> str:
        return f"{self.channel}: {'broken' if self.broken_since else 'ok'}"
