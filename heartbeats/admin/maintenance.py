"""Maintenance windows in the admin: create one-off or recurring windows over chosen jobs, tags
or every job, checked by `domain.maintenance.problems` (the API's rules too), and list them
with when they open and whether they are open now."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils import timezone

from heartbeats.domain import durations, maintenance, tags
from heartbeats.models import MaintenanceWindow

DAY_CHOICES = [(day, day.capitalize()) for day in maintenance.DAYS]


class MaintenanceWindowForm(forms.ModelForm):
    days = forms.MultipleChoiceField(
        choices=DAY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Recurring: the days it opens on.",
    )  # fmt: skip

    class Meta:
        model = MaintenanceWindow
        fields = ["name", "start", "end", "days", "time_from", "time_to", "tz", "all_jobs"]
        fields += ["tags", "jobs"]
        help_texts = {
            "time_from": "Recurring: opens at this wall time (HH:MM) in the time zone below.",
            "time_to": "Closes at this time; at or before 'from' it closes the next day.",
            "tz": "IANA time zone of a recurring window, e.g. Europe/Berlin.",
            "tags": "Space-separated: every job with any of these tags.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["days"] = self.instance.days.split()

    def clean_days(self) -> str:
        chosen = set(self.cleaned_data.get("days") or [])
        return " ".join(day for day in maintenance.DAYS if day in chosen)

    def clean_tags(self) -> str:
        return tags.normalize(self.cleaned_data.get("tags") or "")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        found = maintenance.problems(
            start=cleaned.get("start"),
            end=cleaned.get("end"),
            days=cleaned.get("days") or "",
            time_from=cleaned.get("time_from"),
            time_to=cleaned.get("time_to"),
            tz=cleaned.get("tz") or "UTC",
            covers_jobs=bool(cleaned.get("all_jobs") or cleaned.get("tags") or cleaned.get("jobs")),
        )
        for field, message in found.items():
            if field == "__all__" or field not in self.errors:
                self.add_error(None if field == "__all__" else field, message)
        return cleaned


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    form = MaintenanceWindowForm
    list_display = ["name", "when", "covers", "now_open"]
    search_fields = ["name", "tags"]
    autocomplete_fields = ["jobs"]
    fieldsets = [
        (None, {"fields": ["name"]}),
        ("One-off", {"fields": ["start", "end"]}),
        ("Recurring", {"fields": ["days", "time_from", "time_to", "tz"]}),
        ("Covers", {"fields": ["all_jobs", "tags", "jobs"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(job_count=Count("jobs"))

    def has_change_permission(self, request, obj=None) -> bool:
        # "Silence all alerts" is set and ended from the job list (deleting it here ends it).
        return not (obj is not None and obj.silence) and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting the silence ends it, which takes the permission to silence.
        silence = obj is not None and obj.silence
        allowed = super().has_delete_permission(request, obj)
        return allowed and (not silence or request.user.has_perm("heartbeats.silence_all_alerts"))

    def save_model(self, request, obj, form, change) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.display(description="when")
    def when(self, window: MaintenanceWindow) -> str:
        return describe(window)

    @admin.display(description="covers")
    def covers(self, window: Any) -> str:  # annotated with job_count
        if window.all_jobs:
            return "every job"
        parts = [f"tag {tag}" for tag in window.tags.split()]
        listed = window.job_count
        if listed:
            parts.append(f"{listed} chosen job{'s' if listed != 1 else ''}")
        return ", ".join(parts) or durations.NO_VALUE

    @admin.display(description="open")
    def now_open(self, window: MaintenanceWindow) -> str:
        values = maintenance.from_row({f: getattr(window, f) for f in maintenance.FIELDS})
        now = timezone.now()
        if (until := maintenance.open_until(values, now=now)) is not None:
            return f"open until {durations.moment(until)}"
        following = maintenance.next_start(values, now=now)
        return f"closed, opens {durations.moment(following)}" if following else "closed"


def describe(window: MaintenanceWindow) -> str:
    """ "2026-03-02 12:00 UTC to 2026-03-02 14:00 UTC", or "Sat 22:00 to 02:00 (next day),
    Europe/Berlin"."""
    if not window.recurring:
        return f"{durations.moment(window.start)} to {durations.moment(window.end)}"
    assert window.time_from is not None and window.time_to is not None, "recurring"
    days = " ".join(day.capitalize() for day in window.days.split())
    next_day = " (next day)" if window.time_to <= window.time_from else ""
    return f"{days} {window.time_from:%H:%M} to {window.time_to:%H:%M}{next_day}, {window.tz}"
