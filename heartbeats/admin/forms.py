"""The job change form: the schedule fields, checked by `schedules.validate`, and which
fields the operator edited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from heartbeats.domain import schedules, tags
from heartbeats.models import JobHeartbeat

SPAN_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
SPAN_PATTERN = re.compile(r"\s*(\d{1,9})\s*([smhd])\s*", re.IGNORECASE)


class SpanField(forms.DurationField):
    """A duration as people type it, `90s`, `15m`, `1h`, `1d`, or in Django's own format."""

    default_error_messages = {
        "invalid": "Enter a duration like 90s, 15m, 1h or 1d, or as [DD] [HH:[MM:]]SS.",
    }

    def to_python(self, value):
        if isinstance(value, str) and (match := SPAN_PATTERN.fullmatch(value)):
            count, unit = match.groups()
            return timedelta(**{SPAN_UNITS[unit.lower()]: int(count)})
        return super().to_python(value)


# The check fields the management API added (Healthchecks' names), editable here too.
CHECK_FIELDS = ["display_name", "desc", "methods", "filter_body", "start_kw", "success_kw",
                "failure_kw", "manual_resume", "no_channels"]  # fmt: skip
KEYWORDS = "Comma-separated; with 'filter by body' a ping whose body holds one is a"


class JobHeartbeatForm(forms.ModelForm):
    methods = forms.ChoiceField(
        required=False, label="ping methods",
        choices=[("", "any (GET, HEAD, POST)"), ("POST", "POST only: other pings are ignored")],
    )  # fmt: skip

    class Meta:
        model = JobHeartbeat
        fields = [
            "job_name", "status", "paused", "tags", "period", "cron", "tz", "grace", "channels",
            *CHECK_FIELDS,
        ]  # fmt: skip
        field_classes = {"period": SpanField, "grace": SpanField}
        widgets = {"channels": forms.CheckboxSelectMultiple, "desc": forms.Textarea({"rows": 3})}
        labels = {"filter_body": "filter by body", "start_kw": "keywords: start",
                  "success_kw": "keywords: success", "failure_kw": "keywords: failure"}  # fmt: skip
        help_texts = {
            "display_name": "Shown instead of the job name where set (the API's name).",
            "start_kw": f"{KEYWORDS} start.",
            "success_kw": f"{KEYWORDS} success.",
            "failure_kw": f"{KEYWORDS} failure (checked first).",
            "filter_body": "Classify each ping by the keywords in its body; with none, ignored.",
            "manual_resume": "Stored for Healthchecks clients: a ping never resumes a paused job.",
            "period": "Expected time between runs, 1 minute to 366 days: 90s, 15m, 1h, 1d, "
            "or [DD] [HH:[MM:]]SS.",
            "cron": "Cron expression evaluated in the time zone below, e.g. 0 2 * * *.",
            "tz": "IANA time zone of the cron expression, e.g. Europe/Berlin.",
            "grace": "Tolerated lateness (5m, 1h...); blank uses DEFAULT_GRACE_MINUTES.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The page posts back the values it showed, so `changed_data` names what the operator
        # edited, not what a ping changed since the page was loaded.
        for field in self.fields.values():
            field.show_hidden_initial = True

    def clean_tags(self) -> str:
        return tags.normalize(self.cleaned_data.get("tags") or "")

    def clean_period(self) -> timedelta | None:
        return self._span("period", schedules.check_period)

    def clean_grace(self) -> timedelta | None:
        return self._span("grace", schedules.check_grace)

    def _span(self, field: str, check: Callable[[timedelta | None], None]) -> timedelta | None:
        """Field-level, so an out-of-range value never reaches the instance the page shows."""
        value = self.cleaned_data.get(field)
        try:
            check(value)
        except schedules.ScheduleError as exc:
            raise ValidationError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        try:
            schedules.validate(
                period=cleaned.get("period"),
                cron=cleaned.get("cron") or "",
                tz=cleaned.get("tz") or "UTC",
                grace=cleaned.get("grace"),
            )
        except schedules.ScheduleError as exc:
            raise ValidationError(f"Invalid schedule: {exc}.") from None
        return cleaned
