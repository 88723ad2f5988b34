"""What a job alert says, read from the job and its pings when the message is sent.

A retried Slack message then says how overdue the job is now, not when it was decided. Email is
the exception: Resend deduplicates a retry only when its key *and* body are the same (a changed
body under the same key is refused), so the email's time-relative figures are stated as of the
decision. The decision leaves in the alert's details only what it alone knows (flapping, the
run before a "back up").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Right
from django.utils import timezone

from heartbeats.alerts import messages
from heartbeats.domain import policy, queries, rules, schedules
from heartbeats.models import Alert, EventKind, JobHeartbeat, PingEvent
from heartbeats.redaction import job_output, secret_values

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _Tail(TypedDict):
        tail: str

    TailedEvent = WithAnnotations[PingEvent, _Tail]  # a ping with the tail of its output

OUTPUT_TAIL_CHARS = 1000
# The ping a message reports on: the failed run, the hung run's start, else the last finish.
EVENT_KINDS = {
    "failed": [EventKind.FAIL],
    "hung": [EventKind.START],
}
FINISHES = [EventKind.SUCCESS, EventKind.FAIL]
# Keyed by an alert's job name, None once the job is deleted (no event then).
EventKey = tuple[str | None, tuple[str, ...]]


def _moment(details: dict, key: str) -> datetime | None:
    return datetime.fromisoformat(details[key]) if details.get(key) else None


def _kinds(alert: Alert) -> tuple[str, ...]:
    return tuple(EVENT_KINDS.get(alert.kind, FINISHES))


def _events(alerts: Sequence[Alert]) -> dict[EventKey, TailedEvent]:
    """The reported ping of each job, by the kinds looked for; output cut to its tail in SQL,
    longer by the longest secret so one the tail's start cuts in half is whole to redact."""
    tail_chars = OUTPUT_TAIL_CHARS + max(map(len, secret_values()), default=0)
    names_by_kinds: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for alert in alerts:
        if alert.job_id:
            names_by_kinds[_kinds(alert)].add(alert.job_id)
    found: dict[EventKey, TailedEvent] = {}
    for kinds, names in names_by_kinds.items():
        newest = PingEvent.objects.filter(job=OuterRef("pk"), kind__in=kinds).order_by(
            "-created_at", "-id"
        )
        ids = JobHeartbeat.objects.filter(job_name__in=names).values(
            event_id=Subquery(newest.values("id")[:1])
        )
        events = PingEvent.objects.filter(id__in=ids).annotate(tail=Right("body", tail_chars))
        for event in events.defer("body"):
            found[(event.job_id, kinds)] = event
    return found


def message(alerts: Sequence[Alert]) -> messages.Message:
    """One job alert, or a digest of several: Slack's facts as of now, email's as decided."""
    live = _format(job_alerts(alerts, now=timezone.now()))
    facts = job_alerts(alerts, now=None)
    decided = _format(facts)
    return replace(decided, blocks=live.blocks, slack_source=live.text, facts=tuple(facts))


def _format(job_alerts: list[messages.JobAlert]) -> messages.Message:
    if len(job_alerts) == 1:
        return messages.format_job_alert(job_alerts[0])
    return messages.format_digest(job_alerts)


def job_alerts(alerts: Sequence[Alert], *, now: datetime | None) -> list[messages.JobAlert]:
    """The facts of each alert's message as they stand at `now` (None: as each alert was
    decided), in two or three queries."""
    names = {a.job_id for a in alerts if a.job_id}
    jobs: dict[str | None, JobHeartbeat] = {
        job.job_name: job for job in JobHeartbeat.objects.filter(job_name__in=names)
    }
    events = _events(alerts)
    return [
        _job_alert(
            alert, jobs.get(alert.job_id), events.get((alert.job_id, _kinds(alert))), now=now
        )
        for alert in alerts
    ]


def _job_alert(
    alert: Alert, job: JobHeartbeat | None, event: TailedEvent | None, *, now: datetime | None
) -> messages.JobAlert:
    now = now or alert.created_at
    d = alert.details
    common = {
        "job_name": alert.job_id or "",
        "job_uuid": str(job.uuid) if job is not None else "",
        "kind": alert.kind,
        "last_alert_at": _moment(d, "last_alert_at"),
        "downtime_hours": d.get("downtime_hours"),
        "flapping_incidents": d.get("flapping_incidents"),
        "flap_window_hours": settings.FLAP_WINDOW_HOURS,
    }
    if job is None:  # deleted since: what the decision stored is all there is
        return messages.JobAlert(**common, last_run_at=_moment(d, "last_run_at"))
    stale_after = policy.thresholds().stale_after
    facts = queries.job_facts(job)
    overdue = rules.overdue(facts, now=now, stale_after=stale_after)
    grace = policy.grace_of(job.grace)
    started = job.last_start_at if alert.kind == "hung" else None
    return messages.JobAlert(
        **common,
        last_run_at=job.last_run_at if job.n_runs else None,
        overdue_hours=overdue.total_seconds() / 3600
        if overdue is not None and alert.kind == "down"
        else None,
        status=job.status if job.n_runs else "",  # never finished a run: only the default
        schedule=schedules.describe(
            period=job.period, cron=job.cron, tz=job.tz, grace=grace, stale_after=stale_after
        ),
        due_at=rules.down_deadline(facts, stale_after=stale_after),
        last_success_at=job.last_success_at,
        exit_status=event.exit_status if event is not None and alert.kind == "failed" else None,
        host=(event.host or event.remote_addr) if event is not None else "",
        duration=event.duration if event is not None and alert.kind != "hung" else None,
        output_tail=job_output(event.tail, last=OUTPUT_TAIL_CHARS)
        if event is not None and alert.kind == "failed"
        else "",
        started_at=started,
        run_deadline=job.run_deadline if started else None,
        running_hours=(now - started).total_seconds() / 3600 if started else None,
    )
