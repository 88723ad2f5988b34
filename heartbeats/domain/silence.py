""" "Silence all alerts" as a fact the pages, the JSON and the checker read: when it ends, if it is
in force, and its one-line banner. It is stored as the one maintenance window marked `silence`
(one-off, every job)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from heartbeats.domain import durations
from heartbeats.models import MaintenanceWindow


def silenced_until(*, now: datetime) -> datetime | None:
    """When "Silence all alerts" ends, if it is in force at `now`."""
    window = MaintenanceWindow.objects.filter(silence=True, start__lte=now, end__gt=now)
    return window.values_list("end", flat=True).first()


def silence_notice(until: datetime | None, *, now: datetime) -> str:
    """The banner of a silence in force ("Alerts silenced until 18:00 UTC (2026-03-02, in
    6 h)"); empty when there is none."""
    if until is None:
        return ""
    day = timezone.localtime(until).strftime("%Y-%m-%d")
    return (
        f"Alerts silenced until {durations.clock(until)} ({day}, {durations.ago(until, now=now)})"
    )
