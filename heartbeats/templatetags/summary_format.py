"""Number formats of the summary page: rates as percentages, spans in words."""

from __future__ import annotations

from datetime import timedelta

from django import template

from heartbeats.domain import durations

register = template.Library()
NO_DATA = durations.NO_VALUE


@register.filter
def percent(rate: float | None) -> str:
    return NO_DATA if rate is None else f"{rate * 100:.1f} %"


@register.filter
def span(delta: timedelta | None) -> str:
    """A duration in words, as everywhere else: "2 d 3 h", "6 h", "4 min"."""
    return durations.duration(delta)
