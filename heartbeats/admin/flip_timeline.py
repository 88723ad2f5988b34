"""The job page's up and down timeline: its flips, newest first, and the uptime over the last
24 hours, 7 days and 30 days (`domain.uptime`, from the flips)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from heartbeats.domain import durations, uptime
from heartbeats.models import Flip, FlipStatus, JobHeartbeat

WINDOWS = [("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)), ("30 d", timedelta(days=30))]
SHOWN = 20


def uptimes(job: JobHeartbeat, *, now: datetime) -> list[tuple[str, float]]:
    """(window, uptime) for each window, from two queries whatever the number of flips."""
    oldest = now - WINDOWS[-1][1]
    recent = list(
        job.flips.filter(created_at__gte=oldest)
        .order_by("created_at", "id")
        .values_list("created_at", "new_status")
    )
    before = job.flips.filter(created_at__lt=oldest).order_by("-created_at", "-id").first()
    results = []
    for label, span in WINDOWS:
        start = max(now - span, job.created_at)
        inside = [(moment, status) for moment, status in recent if moment >= start]
        earlier = [status for moment, status in recent if moment < start]
        last_before = earlier[-1] if earlier else (before.new_status if before else None)
        down_before = last_before == FlipStatus.DOWN
        results.append(
            (label, uptime.uptime(inside, down_before=down_before, start=start, end=now))
        )
    return results


def timeline(job: JobHeartbeat, *, now: datetime) -> SafeString:
    summary = format_html_join(
        " · ",
        "{}: <strong>{}</strong>",
        ((label, f"{share:.2%}") for label, share in uptimes(job, now=now)),
    )
    flips = Flip.objects.filter(job=job).order_by("-created_at", "-id")[:SHOWN]
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
        (
            (durations.moment(f.created_at), f.old_status, f.new_status, f.reason or "-")
            for f in flips
        ),
    )
    if not rows:
        return format_html('<p class="cm-uptime">Uptime {}</p><p>{}</p>', summary, "No flip yet.")
    return format_html(
        '<p class="cm-uptime">Uptime {}</p><table class="cm-flips"><thead><tr><th>When</th>'
        "<th>Change</th><th>Why</th></tr></thead><tbody>{}</tbody></table>",
        summary,
        rows,
    )


class FlipTimelineMixin:
    """The job change page's "Up and down" field (listed in its fieldsets)."""

    @admin.display(description=f"uptime and the last {SHOWN} flips")
    def flip_timeline(self, job: JobHeartbeat) -> SafeString:
        return timeline(job, now=timezone.now())
