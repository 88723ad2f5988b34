""" "Silence all alerts" as a fact the pages, the JSON and the checker read: when it ends, if it is
in force, and its one-line banner."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from heartbeats.domain import durations
from heartbeats.models import AlertSilence


def silenced_until(*, now: datetime) -> datetime | None:
    """When "Silence all alerts" ends, if it is in force at `now`."""
    until = AlertSilence.objects.filter(pk=1).values_list("until", flat=True).first()
    return until if until is not None and until > now else None


def silence_notice(until: datetime | None, *, now: datetime) -> str:
    """The banner of a silence in force ("Alerts silenced until 18:00 UTC (2026-03-02, in
    6 h)"); empty when there is none."""
    if until is None:
        return ""
    day = timezone.localtime(until).strftime("%Y-%m-%d")
    return (
        f"Alerts silenced until {durations.clock(until)} ({day}, {durations.ago(until, now=now)})"
    )
