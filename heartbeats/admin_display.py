"""How the admin shows a job: badges, ages, and the change form's schedule and ping panels."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from heartbeats import config, queries, schedules
from heartbeats.models import JobHeartbeat, PingEvent
from heartbeats.rules import AlertState, JobState, job_state

RECENT_EVENTS = 20
UPCOMING_RUNS = 5
PING_KEY_PLACEHOLDER = "<ping-key>"

BADGE_COLOURS = {
    AlertState.HEALTHY: "#2e7d32",
    AlertState.NEVER_ALERTED: "#c62828",
    AlertState.SUPPRESSED: "#ef6c00",
    AlertState.SHOULD_ALERT: "#ad1457",
}


STATE_COLOURS = {
    JobState.NEW: "#546e7a",
    JobState.UP: "#2e7d32",
    JobState.LATE: "#f9a825",
    JobState.DOWN: "#c62828",
    JobState.FAILED: "#c62828",
    JobState.RUNNING: "#1565c0",
    JobState.PAUSED: "#757575",
}


def state_badge(job: JobHeartbeat) -> SafeString:
    """new, up, late, down, failed, running or paused, by the job's own schedule."""
    state = job_state(
        queries.job_facts(job), now=timezone.now(), stale_after=config.thresholds().stale_after
    )
    return badge(state.value, STATE_COLOURS[state])


def local(moment: datetime | None) -> str:
    """A timestamp in the operator's zone (TIME_ZONE), with the zone's abbreviation."""
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def badge(text: str, colour: str) -> SafeString:
    return format_html(
        '<span class="cm-badge" style="background:{};color:#fff;padding:2px 8px;'
        'border-radius:10px;display:inline-block">{}</span>',
        colour,
        text,
    )


def alert_state_badge(state: str) -> SafeString:
    alert_state = AlertState(state)
    text = alert_state.describe(config.thresholds().suppression)
    return badge(text, BADGE_COLOURS[alert_state])


def pretty_json(value: object) -> SafeString:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


def ping_urls(job: JobHeartbeat) -> list[str]:
    """The two ways to ping a job; the key stays a placeholder, never a real key."""
    return [
        f"{settings.SITE_URL}/ping/{job.uuid}",
        f"{settings.SITE_URL}/ping/{PING_KEY_PLACEHOLDER}/{job.job_name}",
    ]


def copyable(text: str) -> SafeString:
    """A read-only field the operator selects with one click, to copy a URL or a command."""
    return format_html(
        '<input type="text" class="cm-copy" readonly value="{}" onclick="this.select()" '
        'style="width:80ch;font-family:monospace">',
        text,
    )


def ping_panel(job: JobHeartbeat) -> SafeString:
    by_uuid, by_name = ping_urls(job)
    curl = f"curl -fsS -m 10 --retry 5 -o /dev/null {by_uuid}"
    crontab = f"{job.cron or '0 2 * * *'} /usr/local/bin/your-job.sh && {curl}"
    rows = [("By UUID", by_uuid), ("By key and name", by_name), ("curl", curl)]
    rows.append(("crontab line", crontab))
    return format_html_join(
        "", "<div><strong>{}</strong><br>{}</div>", ((label, copyable(t)) for label, t in rows)
    )


def schedule_in_words(job: JobHeartbeat) -> str:
    return schedules.describe(
        period=job.period,
        cron=job.cron,
        tz=job.tz,
        grace=job.grace if job.grace is not None else config.default_grace(),
        stale_after=config.thresholds().stale_after,
    )


def upcoming_table(job: JobHeartbeat, *, now: datetime) -> SafeString:
    try:
        runs = schedules.upcoming(
            after=now, period=job.period, cron=job.cron, tz=job.tz, count=UPCOMING_RUNS
        )
    except (schedules.ScheduleError, OverflowError) as exc:
        return format_html("<p>{}</p>", exc)
    if not runs:
        return format_html("<p>{}</p>", "No schedule: the job is stale after the default window.")
    zone = schedules.zone(job.tz)
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td></tr>",
        ((f"{run:%Y-%m-%d %H:%M} UTC", run.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))
         for run in runs),
    )  # fmt: skip
    return format_html(
        '<table class="cm-upcoming"><thead><tr><th>UTC</th><th>{}</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        job.tz,
        body,
    )


def events_table(job: JobHeartbeat) -> SafeString:
    events = PingEvent.objects.filter(job=job).order_by("-created_at")[:RECENT_EVENTS]
    rows = [
        (
            local(event.created_at),
            event.get_kind_display(),
            "-" if event.exit_status is None else event.exit_status,
            "-" if event.duration is None else f"{event.duration.total_seconds():.1f} s",
            event.remote_addr or "-",
        )
        for event in events
    ]
    if not rows:
        return format_html("<p>{}</p>", "No ping received yet.")
    body = format_html_join("", "<tr>" + "<td>{}</td>" * 5 + "</tr>", rows)
    return format_html(
        '<table class="cm-events"><thead><tr><th>Received</th><th>Kind</th><th>Exit status</th>'
        "<th>Duration</th><th>From</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )


def alert_history_link(job: JobHeartbeat) -> SafeString:
    url = reverse("admin:heartbeats_alert_changelist") + "?" + urlencode({"job__exact": job.pk})
    return format_html('<a href="{}">Alerts about {}</a>', url, job.job_name)
