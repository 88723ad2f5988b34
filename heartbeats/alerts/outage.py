"""A monitoring outage, as a check run sees it: the checker's own history (previous runs, the
outage grace) and whether the silence of many jobs at once looks like the monitor's fault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Q

from heartbeats.domain import check_runs, checker_health, durations, policy
from heartbeats.models import Alert, AlertKind, CheckRun


@dataclass(frozen=True)
class _History:
    """The checker's own past, as one pass sees it."""

    previous: datetime | None  # the previous check run (`domain.check_runs`)
    previous_cron: datetime | None  # the last cron run before this pass
    grace_until: datetime | None  # until when an outage grace runs


def _run_history(*, now: datetime, current: CheckRun | None) -> _History:
    """The checker's past in one query.

    A deciding pass reads it under the decide lock, so a second checker sees the grace the
    first one just set; a quiet pass reads it unlocked, as it writes nothing from it.
    """
    earlier = check_runs.earlier_q(now=now, current=current)
    row = CheckRun.objects.aggregate(
        previous=Max("started_at", filter=earlier),
        previous_cron=Max("started_at", filter=earlier & check_runs.CRON),
        grace_until=Max("grace_until", filter=Q(grace_until__gt=now)),
    )
    return _History(row["previous"], row["previous_cron"], row["grace_until"])


def _outage_reason(
    *,
    now: datetime,
    trigger: str,
    history: _History,
    newly_down: int,
    total_jobs: int,
    job_names: list[str] | None,
) -> str | None:
    """`checker_health.outage_reason`, asked only where it means something: a pass limited to
    some jobs (force alert) says nothing about the fleet, and inside a grace the outage is known.

    A crontab gap is measured between cron runs, by a cron run: a manual run neither hides
    one (the next cron run still reports it) nor reports one itself.
    """
    if job_names is not None or history.grace_until is not None:
        return None
    previous_cron = history.previous_cron if trigger == "cron" else None
    return checker_health.outage_reason(
        now=now,
        previous_check_at=previous_cron,
        checker_deadline=policy.checker_deadline(previous_cron) if previous_cron else None,
        newly_down=newly_down,
        total_jobs=total_jobs,
        min_jobs=settings.OUTAGE_MIN_JOBS,
        share=settings.OUTAGE_SHARE,
    )


def _outage_alert(reason: str, *, now: datetime, trigger: str, until: datetime) -> Alert:
    body = (
        f"cronmonitor suspects its own monitoring was interrupted: {reason}. Jobs are given "
        f"until {durations.moment(until)} to report; only those still silent then are alerted."
    )
    return Alert(
        job=None,
        kind=AlertKind.OUTAGE,
        created_at=now,
        trigger=trigger,
        details={"title": "Possible monitoring outage", "body": body},
    )
