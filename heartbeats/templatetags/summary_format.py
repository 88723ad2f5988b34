"""Number formats of the summary page: rates as percentages, spans in words."""

from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()
NO_DATA = "\u2013"  # en dash


@register.filter
def percent(rate: float | None) -> str:
    return NO_DATA if rate is None else f"{rate * 100:.1f} %"


@register.filter
def span(delta: timedelta | None) -> str:
    """A duration in its two largest units, to the minute: "2 d 3 h", "6 h", "4 min"."""
    if delta is None:
        return NO_DATA
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts[:2]) or "0 min"
