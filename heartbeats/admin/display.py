"""How the admin shows a job: badges, ages, and the change form's schedule and ping panels."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from heartbeats.alerts import incidents
from heartbeats.alerts.routing import Target
from heartbeats.domain import durations, maintenance, policy, queries, rules, schedules
from heartbeats.domain.rules import AlertState, AntiSpam, JobState
from heartbeats.models import ChannelKind, JobHeartbeat

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _States(TypedDict):
        job_state: str
        alert_state: str
        maintenance_until: datetime | None

    # A job as the admin's queryset reads it (`listed`).
    ListedJob = WithAnnotations[JobHeartbeat, _States]

UPCOMING_RUNS = 5
UTC_NAMES = {"UTC", "Etc/UTC"}
PING_KEY_PLACEHOLDER = "<ping-key>"

# Only problems are in colour; every other state or alert state is plain text.
STATE_COLOURS = {JobState.DOWN: "#c62828", JobState.FAILED: "#c62828", JobState.LATE: "#b26a00"}
ANTI_SPAM_COLOURS = {
    AntiSpam.FIRST: "#c62828",
    AntiSpam.WINDOW_PASSED: "#ad1457",
    AntiSpam.NEW_INCIDENT: "#ad1457",
    AntiSpam.SAME_INCIDENT: "#b26a00",
    AntiSpam.FLAPPING: "#b26a00",
}


def badge(text: str, colour: str | None) -> SafeString:
    if colour is None:
        return format_html('<span class="cm-plain">{}</span>', text)
    return format_html(
        '<span class="cm-badge" style="background:{};color:#fff;padding:1px 7px;'
        'border-radius:10px;display:inline-block">{}</span>',
        colour,
        text,
    )


def listed(jobs: QuerySet[JobHeartbeat], *, now: datetime) -> QuerySet[ListedJob]:
    """The jobs as the list and the job page show them: state, alert state, outage grace and
    maintenance, each annotated in SQL."""
    thresholds = policy.thresholds()
    jobs = queries.with_alert_state(jobs, now=now, thresholds=thresholds)
    jobs = queries.with_job_state(jobs, now=now, stale_after=thresholds.stale_after)
    return maintenance.with_maintenance(queries.with_outage_grace(jobs, now=now), now=now)


def deferred_until(job: ListedJob, *, now: datetime) -> datetime | None:
    """Until when the checker holds back this job's down alert for a suspected outage: a down
    job (not hung) that would be alerted now, while a check run's outage grace lasts."""
    grace_until = getattr(job, "outage_grace_until", None)
    if grace_until is None or grace_until <= now or job.job_state != JobState.DOWN:
        return None
    if rules.is_hung(queries.job_facts(job), now=now):
        return None
    waiting = {AlertState.NEVER_ALERTED, AlertState.SHOULD_ALERT}
    return grace_until if job.alert_state in waiting else None


def breakable_name(name: str) -> SafeString:
    """A job name that may wrap after its dots, underscores, slashes and colons, as it already
    may after its dashes, rather than at any letter."""
    parts = re.split(r"(?<=[._/:])(?=.)", name)
    return mark_safe("<wbr>".join(conditional_escape(part) for part in parts))  # each escaped


def state_notes(job: ListedJob, *, now: datetime) -> list[str]:
    """The lines under a job's state badge: how overdue it is, and why an alert waits and until
    when (an outage grace, a maintenance window)."""
    notes = []
    facts = queries.job_facts(job)
    overdue = rules.overdue(facts, now=now, stale_after=policy.thresholds().stale_after)
    if job.job_state == JobState.DOWN and rules.is_hung(facts, now=now):
        assert job.last_start_at is not None and job.run_deadline is not None, "hung: it started"
        running = durations.duration(now - job.last_start_at)
        notes.append(f"running {running}, due to finish by {durations.clock(job.run_deadline)}")
    elif overdue is not None and job.job_state == JobState.DOWN:
        notes.append(f"{durations.duration(overdue)} overdue")
    if (until := deferred_until(job, now=now)) is not None:
        notes.append(f"deferred: outage grace until {durations.clock(until)}")
    if (until := getattr(job, "maintenance_until", None)) is not None:
        notes.append(f"in maintenance until {durations.clock(until)}")
    return notes


def state_cell(job: ListedJob, *, now: datetime) -> SafeString:
    """One badge for the job's state (annotated by `queries.with_job_state`), notes below."""
    state = JobState(job.job_state)
    notes = format_html_join(
        "", '<br><small class="cm-note">{}</small>', ((n,) for n in state_notes(job, now=now))
    )
    return format_html("{}{}", badge(state.value, STATE_COLOURS.get(state)), notes)


def alert_state_badge(job: ListedJob, *, now: datetime) -> SafeString:
    if deferred_until(job, now=now) is not None:
        return badge("Deferred (outage grace)", None)
    waiting = {AlertState.NEVER_ALERTED, AlertState.SHOULD_ALERT}
    if getattr(job, "maintenance_until", None) is not None and job.alert_state in waiting:
        return badge("Held (maintenance)", None)
    if job.alert_state == AlertState.HEALTHY:
        return badge(AlertState.HEALTHY.describe(policy.thresholds().suppression), None)
    # Why, in the checker's own words: a new incident after a recovery alerts at once.
    verdict = incidents.anti_spam(job, queries.job_facts(job), now=now)
    return badge(verdict.describe(policy.thresholds().suppression), ANTI_SPAM_COLOURS[verdict])


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
        grace=policy.grace_of(job.grace),
        stale_after=policy.thresholds().stale_after,
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
    if job.tz in UTC_NAMES:  # one column: the second would repeat the first
        columns = [lambda run: f"{run:%Y-%m-%d %H:%M} UTC"]
        heading = format_html("<th>{}</th>", "UTC")
    else:
        columns = [
            lambda run: f"{run:%Y-%m-%d %H:%M} UTC",
            lambda run: run.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        ]
        heading = format_html("<th>UTC</th><th>{}</th>", job.tz)
    body = format_html_join(
        "",
        "<tr>" + "<td>{}</td>" * len(columns) + "</tr>",
        ([column(run) for column in columns] for run in runs),
    )
    return format_html(
        '<table class="cm-upcoming"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        heading,
        body,
    )


def alert_history_link(job: JobHeartbeat) -> SafeString:
    url = reverse("admin:heartbeats_alert_changelist") + "?" + urlencode({"job__exact": job.pk})
    return format_html('<a href="{}">Alerts about {}</a>', url, job.job_name)


def notifies(*, down: bool, up: bool) -> str:
    """What a channel notifies of, in words."""
    return ", ".join(w for w, on in (("problems", down), ("recoveries", up)) if on) or "nothing"


def routes_table(routes: list[tuple[Target, str]]) -> SafeString:
    """Each channel the job's alerts go to, and why: "explicit", "via tag T" or "default"."""
    if not routes:
        return format_html("<p>Nowhere: {}</p>", policy.NO_CHANNEL)
    kinds = dict(ChannelKind.choices)
    rows = [
        (
            target.name + (" (from environment)" if target.from_environment else ""),
            kinds.get(target.kind, target.kind),
            reason,
            notifies(down=target.notify_down, up=target.notify_up),
        )
        for target, reason in routes
    ]
    header = "<tr><th>channel</th><th>kind</th><th>why</th><th>notifies of</th></tr>"
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html('<table class="cm-routes">{}{}</table>', mark_safe(header), body)
