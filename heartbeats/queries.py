"""Reads: the SQL twins of `rules.py`, built from the same thresholds.

Each `*_q` function returns a `Q` that selects exactly the rows for which the matching rule in
`rules.py` is true at `now`; `tests/test_rules_sql_agree.py` holds them to that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, CharField, Q, QuerySet, Value, When

from heartbeats.models import JobHeartbeat, Outcome
from heartbeats.rules import AlertState, Thresholds


def stale_q(*, now: datetime, stale_after: timedelta) -> Q:
    """`rules.is_stale` in SQL; each branch is served by an index."""
    return Q(due_at__isnull=True, last_run_at__lt=now - stale_after) | Q(due_at__lt=now)


def failed_q() -> Q:
    return Q(last_outcome=Outcome.FAIL)


def hung_q(*, now: datetime) -> Q:
    return Q(run_deadline__lt=now)


def problem_q(*, now: datetime, stale_after: timedelta) -> Q:
    """`rules.problem(...) is not None` in SQL: what the checker must look at."""
    return (stale_q(now=now, stale_after=stale_after) | failed_q() | hung_q(now=now)) & Q(
        paused=False
    )


def suppressed_q(*, now: datetime, suppression: timedelta) -> Q:
    """`rules.is_suppressed` in SQL."""
    return Q(last_alert_at__gt=now - suppression)


def alert_state_q(state: AlertState, *, now: datetime, thresholds: Thresholds) -> Q:
    """The rows whose `rules.alert_state` is `state`."""
    problem = problem_q(now=now, stale_after=thresholds.stale_after)
    suppressed = suppressed_q(now=now, suppression=thresholds.suppression)
    return {
        AlertState.HEALTHY: ~problem,
        AlertState.NEVER_ALERTED: problem & Q(last_alert_at__isnull=True),
        AlertState.SUPPRESSED: problem & suppressed,
        AlertState.SHOULD_ALERT: problem & Q(last_alert_at__isnull=False) & ~suppressed,
    }[state]


def with_alert_state(qs: QuerySet, *, now: datetime, thresholds: Thresholds) -> QuerySet:
    """Annotate `alert_state` so lists can show and sort it without evaluating rows in Python."""
    whens = [
        When(alert_state_q(state, now=now, thresholds=thresholds), then=Value(state.value))
        for state in (AlertState.NEVER_ALERTED, AlertState.SUPPRESSED, AlertState.SHOULD_ALERT)
    ]
    return qs.annotate(
        alert_state=Case(*whens, default=Value(AlertState.HEALTHY.value), output_field=CharField())
    )


def problem_jobs(*, now: datetime, stale_after: timedelta) -> QuerySet[JobHeartbeat]:
    """The jobs that need an alert or a suppression decision, oldest heartbeat first."""
    return JobHeartbeat.objects.filter(problem_q(now=now, stale_after=stale_after)).order_by(
        "last_run_at"
    )


def stale_jobs(*, now: datetime, stale_after: timedelta) -> QuerySet[JobHeartbeat]:
    return JobHeartbeat.objects.filter(stale_q(now=now, stale_after=stale_after))
