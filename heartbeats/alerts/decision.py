"""Deciding, in one short transaction: which jobs need an alert, which are suppressed, silenced,
in a maintenance window or deferred by an outage grace, and which recovered. Builds the alerts;
the check run saves them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from heartbeats import job_count
from heartbeats.alerts import incidents
from heartbeats.alerts.check_run_result import CheckResult, JobOutcome
from heartbeats.alerts.outage import _outage_alert, _outage_reason, _run_history
from heartbeats.domain import durations, maintenance, policy, queries, rules
from heartbeats.models import (
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    AlertKind,
    CheckRun,
    DeliveryState,
    JobHeartbeat,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _AlertHistory(TypedDict):
        has_open_alert: bool
        down_last_run: str | None
        last_sent_alert_at: datetime | None
        maintenance_until: datetime | None

    Candidate = WithAnnotations[JobHeartbeat, _AlertHistory]  # as `_candidates` reads it

logger = logging.getLogger(__name__)


DECIDE_LOCK_KEY = 7_202_611  # any constant shared by all checkers of one database


def _candidates(
    *, now: datetime, job_names: list[str] | None, opened: list[tuple[maintenance.Window, datetime]]
) -> QuerySet[Candidate]:
    thresholds = policy.thresholds()
    open_alert = Alert.objects.filter(job=OuterRef("pk"), done=False, kind__in=PROBLEM_KINDS)
    last_problem = Alert.objects.filter(job=OuterRef("pk"), kind__in=PROBLEM_KINDS).order_by(
        "-created_at"
    )
    delivered = AlertDelivery.objects.filter(alert=OuterRef("pk"), state=DeliveryState.SENT)
    qs = (
        JobHeartbeat.objects.filter(
            queries.attention_q(now=now, stale_after=thresholds.stale_after)
        )
        .annotate(
            has_open_alert=Exists(open_alert),
            down_last_run=Subquery(last_problem.values("details__last_run_at")[:1]),
            # What "Last alert" says once an operator reset or forced one (last_alert_at None).
            last_sent_alert_at=Subquery(
                last_problem.filter(Exists(delivered)).values("created_at")[:1]
            ),
            maintenance_until=maintenance.until_case(maintenance.maintenance_only(opened)),
        )
        # No ORDER BY: SQLite would then walk the last_run_at index instead of the filters'.
        .order_by()
    )
    if job_names is not None:
        qs = qs.filter(job_name__in=job_names)
    return qs


def _details(
    job: Candidate, problem: rules.Problem, assessment: incidents.Assessment, *, now: datetime
) -> dict:
    """What only the decision knows; the message's other facts are read when it is sent. The
    incident's opening names it to PagerDuty (one incident however often it is triggered)."""
    opened = now if assessment.new_incident else job.incident_opened_at
    return {
        "problem": problem.value,
        "incident_opened_at": _iso(opened),
        "last_run_at": job.last_run_at.isoformat(),
        "last_alert_at": _iso(job.last_alert_at or job.last_sent_alert_at),
        "flapping_incidents": assessment.flapping_incidents,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _lock_decisions() -> None:
    """Serialise deciding across checkers; SQLite's immediate transactions already do."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DECIDE_LOCK_KEY])


@dataclass
class _Decision:
    alerts: list[Alert] = field(default_factory=list)
    outage_alert: Alert | None = None
    grace_until: datetime | None = None
    previous_check_at: datetime | None = None
    recovered: list[Candidate] = field(default_factory=list)
    assessed: list[tuple[JobHeartbeat, incidents.Assessment]] = field(default_factory=list)
    silenced_until: datetime | None = None
    # Every job found down, failed or hung, with why: the flips to down (`flips.record_down`).
    down: list[tuple[JobHeartbeat, str]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # in a window, a problem alert still pending


def _decide(
    result: CheckResult,
    *,
    now: datetime,
    trigger: str,
    job_names: list[str] | None,
    current: CheckRun | None,
) -> _Decision:
    """Classify every job needing attention; build (not save) the alerts to send."""
    thresholds = policy.thresholds()
    result.total_jobs = job_count.total(connection)
    history = _run_history(now=now, current=current)
    previous_check_at = history.previous
    opened = maintenance.open_windows(now=now)
    decision = _Decision(
        grace_until=history.grace_until,
        previous_check_at=previous_check_at,
        silenced_until=maintenance.silence_end(opened),
    )
    fresh: list[tuple[Candidate, rules.Problem, incidents.Assessment]] = []
    candidates = sorted(
        _candidates(now=now, job_names=job_names, opened=opened), key=lambda j: j.last_run_at
    )
    for job in candidates:
        facts = queries.job_facts(job)
        problem = rules.problem(facts, now=now, stale_after=thresholds.stale_after)
        if problem is None:
            if decision.silenced_until is None:
                decision.recovered.append(job)  # alerted earlier, fine again
            continue
        decision.down.append((job, f"the checker found it {problem.value}"))
        result.count_problem(
            problem, stale=rules.is_stale(facts, now=now, stale_after=thresholds.stale_after)
        )
        assessment = incidents.assess(job, facts, now=now)
        decision.assessed.append((job, assessment))
        if job.has_open_alert and job.maintenance_until is not None:
            decision.held.append(job.job_name)  # its alert waited for a retry: dropped
            result.jobs.append(_in_maintenance(job))
        elif job.has_open_alert:
            result.jobs.append(
                JobOutcome(job.job_name, "pending", "an earlier alert is still being delivered")
            )
        elif assessment.suppressed:
            assert job.last_alert_at is not None, "anti-spam holds back only a job alerted before"
            detail = (
                f"{assessment.anti_spam.replace('_', ' ')}, "
                f"last alert {durations.ago(job.last_alert_at, now=now)}"
            )
            verb = "Would suppress" if result.dry_run else "Suppressing"
            logger.info("%s alert for %s (%s)", verb, job.job_name, detail)
            result.suppressed_alerts += 1
            result.jobs.append(JobOutcome(job.job_name, "suppressed", detail))
        else:
            fresh.append((job, problem, assessment))
    newly_down = sum(
        1
        for job, p, _ in fresh
        if p == rules.Problem.DOWN
        and not job.alerted
        and job.maintenance_until is None
        and rules.went_down_since(
            queries.job_facts(job), previous_check_at, stale_after=thresholds.stale_after
        )
    )
    reason = _outage_reason(
        now=now,
        trigger=trigger,
        history=history,
        newly_down=newly_down,
        total_jobs=result.total_jobs,
        job_names=job_names,
    )
    if reason:
        result.outage = reason
        decision.grace_until = now + timedelta(minutes=settings.OUTAGE_GRACE_MINUTES)
        if decision.silenced_until is None:
            decision.outage_alert = _outage_alert(
                reason, now=now, trigger=trigger, until=decision.grace_until
            )
    for job, problem, assessment in fresh:
        if decision.silenced_until is not None:
            until = durations.moment(decision.silenced_until)
            result.jobs.append(JobOutcome(job.job_name, "silenced", f"all alerts until {until}"))
            continue
        if job.maintenance_until is not None:
            result.jobs.append(_in_maintenance(job))
            continue
        if problem == rules.Problem.DOWN and decision.grace_until is not None:
            result.jobs.append(
                JobOutcome(
                    job.job_name,
                    "deferred",
                    f"monitoring outage grace until {durations.clock(decision.grace_until)}",
                )
            )
            continue
        decision.alerts.append(
            Alert(job=job, kind=problem.value, created_at=now, trigger=trigger,
                  details=_details(job, problem, assessment, now=now))
        )  # fmt: skip
    return decision


def _in_maintenance(job: Candidate) -> JobOutcome:
    assert job.maintenance_until is not None, "only for a job in a window"
    until = durations.clock(job.maintenance_until)
    return JobOutcome(job.job_name, "maintenance", f"in maintenance until {until}")


def _quiet_pass(
    *, now: datetime, trigger: str, job_names: list[str] | None, current: CheckRun
) -> tuple[int, datetime | None, bool, bool] | None:
    """The job total, the previous check, whether any delivery waits for a retry later and
    whether any channel is kept in the database, when this pass has nothing to do; else None.

    Nothing to do means no job needing attention, no delivery due and no sign of a
    monitoring outage: then deciding would write nothing, so the pass skips the decide lock
    and the delivery queries, and stays a few milliseconds however many jobs there are.
    """
    probe = queries.pass_probe(
        now=now, stale_after=policy.thresholds().stale_after, job_names=job_names
    )
    if probe.busy:
        return None
    history = _run_history(now=now, current=current)
    if _outage_reason(
        now=now,
        trigger=trigger,
        history=history,
        newly_down=0,
        total_jobs=probe.total_jobs,
        job_names=job_names,
    ):
        return None
    return probe.total_jobs, history.previous, probe.any_waiting, probe.any_channel_row


def _recoveries(jobs: list[Candidate], *, now: datetime, trigger: str) -> list[Alert]:
    """Jobs alerted earlier that are fine again: "back up" notices, and the flag cleared."""
    alerts = []
    for job in jobs:
        before = datetime.fromisoformat(job.down_last_run) if job.down_last_run else None
        downtime = (job.last_run_at - before).total_seconds() / 3600 if before else None
        details = {
            "last_run_at": job.last_run_at.isoformat(),
            "status": job.status,
            "last_alert_at": _iso(job.last_alert_at or job.last_sent_alert_at),
            "downtime_hours": downtime,
            "incident_opened_at": _iso(job.incident_opened_at),
        }
        alerts.append(
            Alert(
                job=job, kind=AlertKind.RECOVERY, created_at=now, trigger=trigger, details=details
            )
        )
    if jobs:
        JobHeartbeat.objects.filter(job_name__in=[j.job_name for j in jobs]).update(alerted=False)
    return alerts if settings.NOTIFY_ON_RECOVERY else []


def _save(planned: dict[Alert, list[str]], *, now: datetime) -> None:
    """The alerts that go somewhere, each with one delivery per channel it is routed to."""
    Alert.objects.bulk_create([alert for alert, keys in planned.items() if keys])
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(alert=a, channel=c, created_at=now, next_attempt_at=now, updated_at=now)
            for a, keys in planned.items()
            for c in keys
        ]
    )
