"""The checker: decide which jobs to alert about, record the alerts durably, deliver them.

Deciding happens in one short transaction that only one checker holds at a time (an advisory
lock on PostgreSQL, the write lock on SQLite), so two checkers never decide the same alert;
the database's "one open problem alert per job" constraint backs that up. The alert records
are committed before anything is sent, so a crash between deciding and sending loses nothing.
A pass that finds nothing to do (`_quiet_pass`, the usual case) takes no lock at all.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.utils import timezone

from heartbeats import job_count
from heartbeats.alerts import delivery, incidents, outbox
from heartbeats.alerts.check_run_result import CheckResult, JobOutcome
from heartbeats.domain import durations, policy, queries, rules
from heartbeats.models import (
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    AlertKind,
    CheckRun,
    DeliveryState,
    EventKind,
    JobHeartbeat,
    RunOutcome,
)
from heartbeats.redaction import redact
from heartbeats.signals import recording

logger = logging.getLogger(__name__)

CHECKER_JOB = "cron-healthcheck"
DECIDE_LOCK_KEY = 7_202_611  # any constant shared by all checkers of one database
NO_CHANNEL_ERROR = "no alert channel is configured: stale jobs cannot be alerted"


def _candidates(*, now: datetime, job_names: list[str] | None):
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
        )
        # No ORDER BY: SQLite would then walk the last_run_at index instead of the filters'.
        .order_by()
    )
    if job_names is not None:
        qs = qs.filter(job_name__in=job_names)
    return qs


def _details(job: JobHeartbeat, problem: rules.Problem, assessment: incidents.Assessment) -> dict:
    """What only the decision knows; the message's other facts are read when it is sent."""
    return {
        "problem": problem.value,
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


@dataclass(frozen=True)
class _History:
    """The checker's own past, as one pass sees it."""

    previous: datetime | None  # the previous check of any trigger: where event pruning starts
    previous_cron: datetime | None  # the previous cron run: what a crontab gap is measured from
    grace_until: datetime | None  # until when an outage grace runs


def _run_history(*, now: datetime, current: CheckRun | None) -> _History:
    """The checker's past in one query.

    A deciding pass reads it under the decide lock, so a second checker sees the grace the
    first one just set; a quiet pass reads it unlocked, as it writes nothing from it.
    """
    earlier = Q(dry_run=False, started_at__lt=now)
    if current is not None:
        earlier = Q(dry_run=False) & ~Q(pk=current.pk)
    row = CheckRun.objects.aggregate(
        previous=Max("started_at", filter=earlier),
        previous_cron=Max("started_at", filter=earlier & Q(trigger="cron")),
        grace_until=Max("grace_until", filter=Q(grace_until__gt=now)),
    )
    return _History(row["previous"], row["previous_cron"], row["grace_until"])


@dataclass
class _Decision:
    alerts: list[Alert] = field(default_factory=list)
    outage_alert: Alert | None = None
    grace_until: datetime | None = None
    previous_check_at: datetime | None = None
    recovered: list[JobHeartbeat] = field(default_factory=list)
    assessed: list[tuple[JobHeartbeat, incidents.Assessment]] = field(default_factory=list)
    silenced_until: datetime | None = None


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
    decision = _Decision(
        grace_until=history.grace_until,
        previous_check_at=previous_check_at,
        silenced_until=incidents.silenced_until(now=now),
    )
    fresh: list[tuple[JobHeartbeat, rules.Problem, incidents.Assessment]] = []
    candidates = sorted(_candidates(now=now, job_names=job_names), key=lambda j: j.last_run_at)
    for job in candidates:
        facts = queries.job_facts(job)
        problem = rules.problem(facts, now=now, stale_after=thresholds.stale_after)
        if problem is None:
            if decision.silenced_until is None:
                decision.recovered.append(job)  # alerted earlier, fine again
            continue
        result.count_problem(
            problem, stale=rules.is_stale(facts, now=now, stale_after=thresholds.stale_after)
        )
        assessment = incidents.assess(job, facts, now=now)
        decision.assessed.append((job, assessment))
        if job.has_open_alert:
            result.jobs.append(
                JobOutcome(job.job_name, "pending", "an earlier alert is still being delivered")
            )
        elif assessment.suppressed:
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
                  details=_details(job, problem, assessment))
        )  # fmt: skip
    return decision


def _outage_reason(
    *,
    now: datetime,
    trigger: str,
    history: _History,
    newly_down: int,
    total_jobs: int,
    job_names: list[str] | None,
) -> str | None:
    """`rules.outage_reason`, asked only where it means something: a pass limited to some jobs
    (force alert) says nothing about the fleet, and inside a grace the outage is known.

    A crontab gap is measured between cron runs, by a cron run: a manual run neither hides
    one (the next cron run still reports it) nor reports one itself.
    """
    if job_names is not None or history.grace_until is not None:
        return None
    previous_cron = history.previous_cron if trigger == "cron" else None
    return rules.outage_reason(
        now=now,
        previous_check_at=previous_cron,
        checker_deadline=policy.checker_deadline(previous_cron) if previous_cron else None,
        newly_down=newly_down,
        total_jobs=total_jobs,
        min_jobs=settings.OUTAGE_MIN_JOBS,
        share=settings.OUTAGE_SHARE,
    )


def _quiet_pass(
    *, now: datetime, trigger: str, job_names: list[str] | None, current: CheckRun
) -> tuple[int, datetime | None, bool] | None:
    """The job total, the previous check and whether any delivery waits for a retry later,
    when this pass has nothing to do; else None.

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
    return probe.total_jobs, history.previous, probe.any_waiting


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


def _recoveries(jobs: list[JobHeartbeat], *, now: datetime, trigger: str) -> list[Alert]:
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
        }
        alerts.append(
            Alert(
                job=job, kind=AlertKind.RECOVERY, created_at=now, trigger=trigger, details=details
            )
        )
    if jobs:
        JobHeartbeat.objects.filter(job_name__in=[j.job_name for j in jobs]).update(alerted=False)
    return alerts if settings.NOTIFY_ON_RECOVERY else []


def _save(alerts: list[Alert], channels: list[str], *, now: datetime) -> None:
    Alert.objects.bulk_create(alerts)
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(alert=a, channel=c, created_at=now, next_attempt_at=now, updated_at=now)
            for a in alerts
            for c in channels
        ]
    )


def run_check(
    *,
    now: datetime,
    trigger: str = "cron",
    dry_run: bool = False,
    job_names: list[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> CheckResult:
    """One pass of the runbook's checker; `job_names` limits deciding to those jobs, and a
    `deadline` (`time.monotonic()`) the sending (see `delivery.deliver_pending`)."""
    channels = policy.configured_channels()
    result = CheckResult(trigger=trigger, dry_run=dry_run, channels=channels)
    if dry_run:
        decision = _decide(result, now=now, trigger=trigger, job_names=job_names, current=None)
        for alert in decision.alerts:
            action = "would_send" if channels else "no_channel"
            result.jobs.append(JobOutcome(alert.job_id, action, alert.kind))
        result.alerts_sent = len(decision.alerts) if channels else 0
        return result
    run = CheckRun.objects.create(started_at=now, trigger=trigger, host=socket.gethostname())
    try:
        _check(
            result, run, now=now, trigger=trigger, job_names=job_names, sleep=sleep,
            deadline=deadline,
        )  # fmt: skip
    except Exception as exc:
        _record_failure(run, exc, now=now)
        raise
    return result


def _check(result, run, *, now, trigger, job_names, sleep, deadline) -> None:
    quiet = _quiet_pass(now=now, trigger=trigger, job_names=job_names, current=run)
    if quiet is None:
        previous_check_at = _decide_and_deliver(
            result, run, now=now, trigger=trigger, job_names=job_names, sleep=sleep,
            deadline=deadline,
        )  # fmt: skip
        any_waiting = True
    else:
        result.total_jobs, previous_check_at, any_waiting = quiet
        if not result.channels:
            result.errors.append(NO_CHANNEL_ERROR)
    if any_waiting:
        result.retries_waiting, result.next_retry_at = outbox.waiting_retries(now=now)
    recording.prune_events(keep=policy.events_kept(), since=previous_check_at)
    CheckRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        outcome=RunOutcome.FAILED if result.errors else RunOutcome.OK,
        total_jobs=result.total_jobs,
        stale_jobs=result.stale_jobs,
        alerts_sent=result.alerts_sent,
        suppressed_alerts=result.suppressed_alerts,
        failed_alerts=result.failed_alerts,
        error="\n".join(result.errors)[:2000],
    )
    if trigger != "cron":
        return  # a manual run must not make a broken crontab look alive
    recording.record_signal(
        job_name=CHECKER_JOB,
        now=now,
        status="alerts_failing" if result.errors else "healthy",
        metadata={k: v for k, v in result.as_dict().items() if k not in ("jobs", "channels")},
    )


def _decide_and_deliver(
    result, run, *, now, trigger, job_names, sleep, deadline
) -> datetime | None:
    """Decide under the lock and commit the alerts before sending any, so a crash mid-send
    loses nothing and two checkers never decide the same alert; returns the previous check.
    Alerts left open with nothing pending (by older code) are closed first, so no job stays
    blocked from its next alert."""
    channels = result.channels
    outbox.close_settled()
    with transaction.atomic():
        _lock_decisions()
        decision = _decide(result, now=now, trigger=trigger, job_names=job_names, current=run)
        incidents.record(decision.assessed, now=now)
        recoveries = _recoveries(decision.recovered, now=now, trigger=trigger)
        result.recoveries = len(recoveries)
        # A broken channel gets nothing new until `send_test_alert` gets through: no request
        # a minute to a revoked webhook, and no alert row a minute per job while it stays so.
        broken = set(queries.broken_channels().values_list("channel", flat=True))
        working = [channel for channel in channels if channel not in broken]
        if working:
            notices = [decision.outage_alert] if decision.outage_alert else []
            _save(notices + recoveries + decision.alerts, working, now=now)
        if decision.outage_alert is not None:
            CheckRun.objects.filter(pk=run.pk).update(grace_until=decision.grace_until)
    if not working:
        result.jobs += [JobOutcome(a.job_id, "no_channel", a.kind) for a in decision.alerts]
    if not channels:
        result.errors.append(NO_CHANNEL_ERROR)
    elif broken_here := sorted(broken.intersection(channels)):
        result.errors.append(_broken_channels_error(broken_here, every=not working))
    _merge(result, delivery.deliver_pending(now=now, sleep=sleep, deadline=deadline))
    return decision.previous_check_at


def _broken_channels_error(broken: list[str], *, every: bool) -> str:
    fix = "until it is fixed and `manage.py send_test_alert` gets through"
    if every:
        return f"every alert channel is broken ({', '.join(broken)}): no alert can go out {fix}"
    return f"alert channel {', '.join(broken)} is broken: it gets no new alerts {fix}"


def _merge(result: CheckResult, report: delivery.DeliveryReport) -> None:
    """What became of each alert this pass touched: sent when any channel delivered it (an
    email copy counts even if Slack failed), pending while a channel still retries."""
    problem_kinds = {k.value for k in PROBLEM_KINDS}
    reported = [*report.sent, *report.failed, *report.pending]
    states: dict = {}
    for alert_id, state in AlertDelivery.objects.filter(
        alert_id__in=[a.id for a in reported]
    ).values_list("alert_id", "state"):
        states.setdefault(alert_id, set()).add(state)
    for alert in reported:
        got = states.get(alert.id, set())
        if DeliveryState.SENT in got:
            action = "sent"
        elif DeliveryState.PENDING in got:
            action = "pending"
        else:
            action = "failed"
        if alert.kind in problem_kinds:
            result.jobs.append(JobOutcome(alert.job_id, action, alert.kind))
            result.alerts_sent += action == "sent"
        elif alert.kind == AlertKind.RECOVERY:
            result.recoveries_sent += action == "sent"
    result.failed_alerts = len(report.failed)
    result.left_for_next_pass = report.left_for_next_pass
    result.errors.extend(report.errors)


def _record_failure(run: CheckRun, exc: Exception, *, now: datetime) -> None:
    """`crontab run` swallows exceptions: leave the failure where operators look."""
    error = redact(f"{type(exc).__name__}: {exc}")[:2000]
    logger.error("Health check failed: %s", error)
    try:
        CheckRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(), outcome=RunOutcome.FAILED, error=error
        )
        if run.trigger != "cron":
            return
        recording.record_signal(
            job_name=CHECKER_JOB, kind=EventKind.FAIL, now=now, status="failed",
            metadata={"error": error},
        )  # fmt: skip
    except Exception as nested:  # the database itself may be what failed
        logger.error("Could not record the health check failure: %s", redact(str(nested)))
