"""Maintenance windows: while one is open, the jobs it covers send no problem alert."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from heartbeats.models.jobs import JobHeartbeat

SILENCE_NAME = "Silence all alerts"


class MaintenanceWindow(models.Model):
    """One-off (`start` to `end`) or recurring (on `days`, from `time_from` to `time_to` in the
    wall time of `tz`; `time_to` at or before `time_from` ends the next day), over the chosen
    `jobs`, the jobs carrying any of `tags`, or every job (`all_jobs`).

    The admin's "Silence all alerts" is the one window with `silence` set: one-off, every job.
    The management API's fields map one to one: `from`/`to` are `time_from`/`time_to`,
    `checks` the jobs' UUIDs, `all` is `all_jobs`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    start = models.DateTimeField(null=True, blank=True, help_text="One-off: when it opens.")
    end = models.DateTimeField(null=True, blank=True, help_text="One-off: when it closes.")
    # Space-separated three-letter days, stored in week order: "mon tue sat".
    days = models.CharField(max_length=27, blank=True, default="")
    time_from = models.TimeField("from", null=True, blank=True)
    time_to = models.TimeField("to", null=True, blank=True)
    tz = models.CharField("time zone", max_length=64, default="UTC")
    jobs = models.ManyToManyField(JobHeartbeat, blank=True, related_name="maintenance_windows")
    tags = models.CharField(max_length=500, blank=True, default="")
    all_jobs = models.BooleanField("every job", default=False)
    silence = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(start__isnull=False, end__isnull=False, end__gt=models.F("start"), days="")
                    & Q(time_from__isnull=True, time_to__isnull=True)
                )
                | (
                    Q(start__isnull=True, end__isnull=True, time_from__isnull=False)
                    & Q(time_to__isnull=False)
                    & ~Q(days="")
                ),
                name="maintenance_one_off_or_recurring",
            ),
            models.UniqueConstraint(
                fields=["silence"], condition=Q(silence=True), name="one_silence_window"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def validate_constraints(self, exclude=None) -> None:
        # Forms and the API say what is wrong with the times in words
        # (`domain.maintenance.problems`); the database's check on them only backs that up.
        super().validate_constraints(exclude={*(exclude or ()), "start"})

    @property
    def recurring(self) -> bool:
        return bool(self.days)
