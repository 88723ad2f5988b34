"""List filters of the jobs change list: the runbook's queries, computed in SQL by
`domain/queries.py`."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import TypeVar

from django.contrib import admin
from django.utils import timezone

from heartbeats.domain import durations, maintenance, policy, queries, tags
from heartbeats.domain.rules import AlertState, JobState

ALERT_HISTORY_WINDOW = timedelta(hours=48)

Choice = TypeVar("Choice", bound=enum.StrEnum)


def _chosen(value: str | None, choices: type[Choice]) -> Choice | None:
    """The member a filter's value names; None when nothing (or no member) is chosen."""
    return next((choice for choice in choices if choice.value == value), None)


class StateFilter(admin.SimpleListFilter):
    """The job's one state (`rules.job_state`), as the state column shows it."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(state.value, state.value.capitalize()) for state in JobState]

    def queryset(self, request, queryset):
        state = _chosen(self.value(), JobState)
        if state is None:
            return queryset
        state_q = queries.job_state_q(
            state, now=timezone.now(), stale_after=policy.thresholds().stale_after
        )
        return queryset.filter(state_q)


class HealthFilter(admin.SimpleListFilter):
    """The runbook's "Monitor Stale Jobs" and "View Healthy Jobs": by heartbeat age alone, so a
    failed job is not stale and a paused one can be; the "state" filter tells them apart."""

    title = "runbook staleness (heartbeat age only)"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [
            ("stale", "Stale: no heartbeat in time (paused included)"),
            ("healthy", "Not stale: heartbeat in time (may have failed)"),
        ]

    def queryset(self, request, queryset):
        if self.value() not in {"stale", "healthy"}:
            return queryset
        stale = queries.stale_q(now=timezone.now(), stale_after=policy.thresholds().stale_after)
        return queryset.filter(stale if self.value() == "stale" else ~stale)


class AlertStateFilter(admin.SimpleListFilter):
    """The runbook's "Alerts Being Suppressed": why a job was or was not alerted."""

    title = "alert state"
    parameter_name = "alert_state"

    def lookups(self, request, model_admin):
        suppression = policy.thresholds().suppression
        return [(state.value, state.describe(suppression)) for state in AlertState]

    def queryset(self, request, queryset):
        state = _chosen(self.value(), AlertState)
        if state is None:
            return queryset
        state_q = queries.alert_state_q(state, now=timezone.now(), thresholds=policy.thresholds())
        return queryset.filter(state_q)


class LastAlertFilter(admin.SimpleListFilter):
    """The runbook's "Check Alert History": when a job was last alerted."""

    title = "last alert"
    parameter_name = "last_alert"

    def lookups(self, request, model_admin):
        hours = durations.duration(policy.thresholds().suppression)
        return [
            ("suppressing", f"Within the anti-spam window (< {hours})"),
            ("48h", "In the last 48 h"),
            ("never", "Never alerted"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "suppressing":
            return queryset.filter(
                queries.suppressed_q(now=now, suppression=policy.thresholds().suppression)
            )
        if self.value() == "48h":
            return queryset.filter(queries.alerted_since_q(now - ALERT_HISTORY_WINDOW))
        if self.value() == "never":
            return queryset.filter(last_alert_at__isnull=True)
        return queryset


class TagFilter(admin.SimpleListFilter):
    """Jobs carrying one tag; the choices are the tags in use (the first `TAG_CHOICES`)."""

    title = "tag"
    parameter_name = "tag"
    TAG_CHOICES = 200

    def lookups(self, request, model_admin):
        stored = (
            model_admin.model.objects.exclude(tags="").order_by().values_list("tags", flat=True)
        )
        found = sorted({tag for text in stored.distinct()[:1000] for tag in text.split()})
        return [(tag, tag) for tag in found[: self.TAG_CHOICES]]

    def queryset(self, request, queryset):
        tag = self.value()
        return queryset.filter(tags.has_tag_q(tag)) if tag else queryset


class MaintenanceFilter(admin.SimpleListFilter):
    """Jobs in an open maintenance window now (the silence of all alerts aside)."""

    title = "maintenance"
    parameter_name = "maintenance"

    def lookups(self, request, model_admin):
        return [("now", "In maintenance now")]

    def queryset(self, request, queryset):
        if self.value() != "now":
            return queryset
        opened = maintenance.maintenance_only(maintenance.open_windows(now=timezone.now()))
        return queryset.filter(maintenance.in_maintenance_q(opened))
