"""Reads: the SQL twins of `domain/rules.py`, built from the same thresholds.

Each `*_q` function returns a `Q` that selects exactly the rows for which the matching rule in
`domain/rules.py` is true at `now`; `tests/test_rules_sql_agree.py` holds them to that.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest

from heartbeats import job_count
from heartbeats.domain import policy, schedules
from heartbeats.domain.rules import AlertState, JobFacts, JobState, Thresholds
from heartbeats.models import (
    ENV_CHANNELS,
    Alert,
    AlertDelivery,
    Channel,
    ChannelStatus,
    CheckRun,
    DeliveryState,
    JobHeartbeat,
    Outcome,
)


def job_facts(job: JobHeartbeat) -> JobFacts:
    """A loaded job as the plain values the rules decide on."""
    return JobFacts(
        last_run_at=job.last_run_at,
        last_alert_at=job.last_alert_at,
        due_at=job.due_at,
        grace=policy.grace_of(job.grace),
        last_outcome=job.last_outcome,
        last_start_at=job.last_start_at,
        run_deadline=job.run_deadline,
        paused=job.paused,
        n_runs=job.n_runs,
        last_success_at=job.last_success_at,
        watched_since=job.watched_since,
        incident_opened_at=job.incident_opened_at,
        flapping=job.flapping,
    )


def _stale_branches(*, now: datetime, stale_after: timedelta) -> list[Q]:
    cutoff = now - stale_after
    unwatched = Q(watched_since__isnull=True) | Q(watched_since__lt=cutoff)
    return [Q(due_at__isnull=True, last_run_at__lt=cutoff) & unwatched, Q(due_at__lt=now)]


def down_deadline(*, stale_after: timedelta) -> Coalesce:
    """`rules.down_deadline` in SQL: the due time, or `stale_after` after the watch start."""
    watch_start = Greatest("last_run_at", Coalesce("watched_since", "last_run_at"))
    return Coalesce("due_at", watch_start + stale_after, output_field=DateTimeField())


def stale_q(*, now: datetime, stale_after: timedelta) -> Q:
    """`rules.is_stale` in SQL, `down_deadline < now` split so that an index serves each
    branch."""
    return reduce(operator.or_, _stale_branches(now=now, stale_after=stale_after))


def failed_q() -> Q:
    return Q(last_outcome=Outcome.FAIL)


def hung_q(*, now: datetime) -> Q:
    return Q(run_deadline__lt=now)


def problem_q(*, now: datetime, stale_after: timedelta) -> Q:
    """`rules.problem(...) is not None` in SQL: what the checker must look at."""
    return (stale_q(now=now, stale_after=stale_after) | failed_q() | hung_q(now=now)) & Q(
        paused=False
    )


def attention_q(*, now: datetime, stale_after: timedelta) -> Q:
    """What one checker query must read: problems, and alerted jobs that may have recovered."""
    return problem_q(now=now, stale_after=stale_after) | Q(alerted=True, paused=False)


def attention_branches(*, now: datetime, stale_after: timedelta) -> list[Q]:
    """`attention_q` as alternatives that one index each serves, for EXISTS probes.

    EXISTS over each stops at its index's first row; over the whole OR, SQLite scans the table.
    """
    branches = [
        *_stale_branches(now=now, stale_after=stale_after),
        failed_q(),
        hung_q(now=now),
        Q(alerted=True),
    ]
    return [branch & Q(paused=False) for branch in branches]


@dataclass(frozen=True)
class PassProbe:
    total_jobs: int
    busy: bool  # a job needs attention, a delivery is due or an alert is left to close
    any_waiting: bool  # a delivery is pending, due or not
    any_channel_row: bool = False  # a channel is kept in the database


def pass_probe(
    *, now: datetime, stale_after: timedelta, job_names: list[str] | None = None
) -> PassProbe:
    """What a checker pass must know before deciding anything, in one round trip: the job
    total (the trigger-kept counter), one `EXISTS` per indexed branch of `attention_q` (limited
    to `job_names` when given), whether deliveries are due or pending, whether an alert is
    open with nothing pending (left by older code: the pass must close it), and whether any
    channel is kept in the database."""
    jobs = [
        JobHeartbeat.objects.filter(b) for b in attention_branches(now=now, stale_after=stale_after)
    ]
    if job_names is not None:
        jobs = [qs.filter(job_name__in=job_names) for qs in jobs] if job_names else []
    pending = AlertDelivery.objects.filter(state=DeliveryState.PENDING)
    settled = Alert.objects.filter(done=False).exclude(Exists(pending.filter(alert=OuterRef("pk"))))
    busy = [_exists_sql(qs) for qs in [*jobs, pending.filter(next_attempt_at__lte=now), settled]]
    waiting = _exists_sql(pending)
    channel = _exists_sql(Channel.objects.all())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ({job_count.TOTAL_SQL}), {' OR '.join(sql for sql, _ in busy)}, "
            f"{waiting[0]}, {channel[0]}",
            [param for _, params in [*busy, waiting, channel] for param in params],
        )
        total, any_busy, any_waiting, any_channel_row = cursor.fetchone()
    return PassProbe(int(total), bool(any_busy), bool(any_waiting), bool(any_channel_row))


def _exists_sql(qs: QuerySet) -> tuple[str, tuple]:
    sql, params = qs.order_by().values("pk")[:1].query.sql_with_params()
    return f"EXISTS ({sql})", tuple(params)


def effective_grace() -> Coalesce:
    """`policy.grace_of` in SQL: the job's own grace, or DEFAULT_GRACE_MINUTES."""
    return Coalesce(F("grace"), Value(policy.default_grace()), output_field=DurationField())


def job_state_whens(*, now: datetime, stale_after: timedelta) -> list:
    """`rules.job_state` in SQL: one (state, condition) per state in the rule's order, the first
    true condition giving the state, as a CASE does; `up` is what is left."""
    grace = effective_grace()
    return [
        (JobState.PAUSED, Q(paused=True)),
        (JobState.FAILED, failed_q()),
        (JobState.DOWN, hung_q(now=now) | stale_q(now=now, stale_after=stale_after)),
        (JobState.RUNNING, Q(last_start_at__isnull=False, run_deadline__isnull=False)),
        (JobState.NEW, Q(n_runs=0)),
        (JobState.LATE, Q(due_at__lt=Value(now) + grace)),
    ]


def job_state_q(state: JobState, *, now: datetime, stale_after: timedelta) -> Q:
    """The rows whose `rules.job_state` is `state`: its condition and none of the earlier."""
    whens = job_state_whens(now=now, stale_after=stale_after)
    selected = Q()
    for each, condition in whens:
        if each == state:
            return selected & condition
        selected &= ~condition
    return selected


def with_job_state(qs: QuerySet, *, now: datetime, stale_after: timedelta) -> QuerySet:
    """Annotate `job_state`, so lists, summaries and /metrics read the state from SQL."""
    whens = job_state_whens(now=now, stale_after=stale_after)
    return qs.annotate(
        job_state=Case(
            *(When(condition, then=Value(state.value)) for state, condition in whens),
            default=Value(JobState.UP.value),
            output_field=CharField(),
        )
    )


def with_outage_grace(qs: QuerySet, *, now: datetime) -> QuerySet:
    """Annotate `outage_grace_until`: the end of a check run's outage grace still running at
    `now` (the same for every row, computed once by the database), or NULL."""
    grace = CheckRun.objects.filter(grace_until__gt=now).order_by("-grace_until")
    return qs.annotate(outage_grace_until=Subquery(grace.values("grace_until")[:1]))


def suppressed_q(*, now: datetime, suppression: timedelta) -> Q:
    """`rules.is_suppressed` in SQL: a recent alert, and no recovery since it (or flapping)."""
    recovered = Q(last_success_at__gt=F("last_alert_at")) | Q(watched_since__gt=F("last_alert_at"))
    return Q(last_alert_at__gt=now - suppression) & (Q(flapping=True) | ~recovered)


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


def stale_jobs(*, now: datetime, stale_after: timedelta) -> QuerySet[JobHeartbeat]:
    return JobHeartbeat.objects.filter(stale_q(now=now, stale_after=stale_after))


def alerted_since_q(since: datetime) -> Q:
    """Jobs alerted after `since`: the runbook's "Check Alert History" (since = now - 48 h)."""
    return Q(last_alert_at__gt=since)


def broken_channels() -> QuerySet[ChannelStatus]:
    """Channels a permanent delivery error marked broken, oldest breakage first."""
    return ChannelStatus.objects.filter(broken_since__isnull=False).order_by("broken_since")


def named(statuses: list[ChannelStatus]) -> list[ChannelStatus]:
    """`statuses`, each given the `name` of its channel."""
    names = channel_names([status.channel for status in statuses])
    for status in statuses:
        status.name = names[status.channel]  # type: ignore[attr-defined]
    return statuses


def channel_names(keys: list[str]) -> dict[str, str]:
    """The name of each channel key ("slack", "email", or a Channel row's id; a deleted row's
    id stays as it is): one query."""
    ids = [key for key in keys if key not in ENV_CHANNELS]
    rows = Channel.objects.filter(id__in=ids).values_list("id", "name") if ids else []
    names = {str(channel_id): name for channel_id, name in rows}
    return {key: names.get(key, key) for key in keys}


def jobs_shorter_than(
    interval: timedelta, *, shown: int = 5, expressions: int = 50
) -> tuple[list[str], int]:
    """Unpaused jobs whose period (or, for a cron job, shortest wait between runs) plus grace
    is under `interval`: the first `shown` names, and how many there are.

    Periods are compared in SQL; each distinct cron expression (at most `expressions` of them)
    is evaluated once, so the cost follows the schedules in use, not the number of jobs.
    """
    live = JobHeartbeat.objects.filter(paused=False)
    grace = effective_grace()
    span = ExpressionWrapper(F("period") + grace, output_field=DurationField())
    short = Q(pk__in=live.filter(period__isnull=False).alias(span=span).filter(span__lt=interval))
    crons = live.exclude(cron="").values_list("cron", "tz").distinct().order_by("cron", "tz")
    for cron, tz in crons[:expressions]:
        try:
            shortest = min(schedules.run_gaps(cron, tz))
        except (schedules.ScheduleError, StopIteration, ValueError):
            continue  # an unusable schedule is the admin form's to refuse, not this check's
        if shortest < interval:
            too_short = (
                live.filter(cron=cron, tz=tz).alias(g=grace).filter(g__lt=interval - shortest)
            )
            short |= Q(pk__in=too_short)
    matching = live.filter(short)
    names = list(matching.order_by("job_name").values_list("job_name", flat=True)[:shown])
    return names, (matching.count() if len(names) == shown else len(names))
