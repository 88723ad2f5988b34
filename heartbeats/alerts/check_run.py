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
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from heartbeats.alerts import delivery, incidents, maintenance, outbox, routing
from heartbeats.alerts.check_run_result import CheckResult, JobOutcome
from heartbeats.alerts.decision import _decide, _lock_decisions, _quiet_pass, _recoveries, _save
from heartbeats.domain import policy, queries
from heartbeats.models import (
    PROBLEM_KINDS,
    AlertDelivery,
    AlertKind,
    CheckRun,
    DeliveryState,
    EventKind,
    RunOutcome,
)
from heartbeats.redaction import redact
from heartbeats.signals import flips, recording

logger = logging.getLogger(__name__)

CHECKER_JOB = "cron-healthcheck"


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
    # The environment's channels; the database's are read only when the pass has work.
    result = CheckResult(trigger=trigger, dry_run=dry_run, channels=policy.configured_channels())
    if dry_run:
        targets = routing.load_targets()
        result.channels = [target.name for target in targets.values()]
        decision = _decide(result, now=now, trigger=trigger, job_names=job_names, current=None)
        planned = routing.plan(decision.alerts, targets, broken=set())
        for alert in decision.alerts:
            action = "would_send" if planned[alert] else "no_channel"
            result.jobs.append(JobOutcome(alert.job_id, action, alert.kind))
        result.alerts_sent = sum(1 for alert in decision.alerts if planned[alert])
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
        result.total_jobs, previous_check_at, any_waiting, any_channel_row = quiet
        if not result.channels and any_channel_row:  # none in the environment
            result.channels = [target.name for target in routing.load_targets().values()]
        if not result.channels:
            result.errors.append(policy.NO_CHANNEL_MESSAGE)
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
    outbox.close_settled()
    targets = routing.load_targets()
    result.channels = [target.name for target in targets.values()]
    with transaction.atomic():
        _lock_decisions()
        decision = _decide(result, now=now, trigger=trigger, job_names=job_names, current=run)
        if decision.held:
            maintenance.drop_waiting_problem_alerts(now=now, job_names=decision.held)
        incidents.record(decision.assessed, now=now)
        flips.record_down(decision.down, now=now)
        recoveries = _recoveries(decision.recovered, now=now, trigger=trigger)
        result.recoveries = len(recoveries)
        # A broken channel gets nothing new until `send_test_alert` gets through: no request
        # a minute to a revoked webhook, and no alert row a minute per job while it stays so.
        broken = set(queries.broken_channels().values_list("channel", flat=True))
        notices = [decision.outage_alert] if decision.outage_alert else []
        planned = routing.plan(notices + recoveries + decision.alerts, targets, broken=broken)
        _save(planned, now=now)
        if decision.outage_alert is not None:
            CheckRun.objects.filter(pk=run.pk).update(grace_until=decision.grace_until)
    result.jobs += [
        JobOutcome(a.job_id, "no_channel", a.kind) for a in decision.alerts if not planned[a]
    ]
    if not targets:
        result.errors.append(policy.NO_CHANNEL_MESSAGE)
    elif broken_here := sorted(targets[key].name for key in broken if key in targets):
        result.errors.append(_broken_channels_error(broken_here, every=broken >= set(targets)))
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
