"""Selectors behind the summary page, /summary.json, /metrics and /healthz.

Every function runs a fixed number of aggregate queries, whatever the number of jobs, alerts or
checker runs, and takes `now` so tests pin the answers without a clock. The figures follow the
runbook's "Monitoring & Observability" section; their definitions are shown on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from heartbeats.domain import check_runs, checker_health, policy, queries, rules, silence
from heartbeats.models import (
    ENV_CHANNELS,
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    ChannelStatus,
    CheckRun,
    DeliveryState,
    EventKind,
    JobHeartbeat,
    PingEvent,
    RunOutcome,
)
from heartbeats.reporting.summary_chart import DayCount

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DAILY_DAYS = 7
RECENT_RUNS = 10
STALE_LIST_LIMIT = 50
ALERTED_RECENTLY = timedelta(hours=24)
# A cron run starts a few seconds after its minute; do not call the checker late for that.
UNDELIVERED = (DeliveryState.FAILED, DeliveryState.EXPIRED)


@dataclass(frozen=True)
class JobCounts:
    """The runbook's `healthcheck_summary` view, and the jobs in each `rules.JobState`.

    `healthy` is the jobs that are up. `stale` is the one stale count (/metrics'
    `cronmonitor_stale_jobs` too): `queries.stale_q`, heartbeat age alone, paused and failed jobs
    included. A check run's `stale_jobs` is another count, of its problems only.
    """

    total: int
    healthy: int
    stale: int
    alerted_24h: int
    most_recent_heartbeat: datetime | None
    oldest_heartbeat: datetime | None
    states: dict[str, int] = field(default_factory=dict)

    @property
    def states_in_words(self) -> str:
        """ "2 up, 1 failed": the states some job is in, in the rule's order."""
        return ", ".join(f"{count} {state}" for state, count in self.states.items() if count)


@dataclass(frozen=True)
class CheckerStatus:
    last_run: CheckRun | None
    deadline: datetime | None
    problem: checker_health.CheckerProblem | None


@dataclass(frozen=True)
class ChannelFailures:
    failed: int
    errored: int


@dataclass(frozen=True)
class WindowMetrics:
    name: str
    since: datetime
    alerts_sent: int
    alerts_suppressed: int
    alerted_jobs: int
    recovered_jobs: int
    failures: dict[str, ChannelFailures]

    @property
    def suppression_rate(self) -> float | None:
        decided = self.alerts_sent + self.alerts_suppressed
        return self.alerts_suppressed / decided if decided else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.recovered_jobs / self.alerted_jobs if self.alerted_jobs else None


@dataclass(frozen=True)
class StaleJob:
    job_name: str
    last_run_at: datetime | None  # None: never ran
    due_at: datetime | None
    overdue: timedelta
    last_alert_at: datetime | None
    status: str
    paused: bool


@dataclass(frozen=True)
class Summary:
    now: datetime
    jobs: JobCounts
    checker: CheckerStatus
    recent_runs: list[CheckRun]
    windows: dict[str, WindowMetrics]
    daily: list[DayCount]
    stale_jobs: list[StaleJob]
    broken_channels: list[ChannelStatus]
    silenced_until: datetime | None  # "Silence all alerts" in force until then


def job_counts(*, now: datetime) -> JobCounts:
    """Totals over the heartbeat table in one aggregate, states by `queries.job_state_q`."""
    stale_after = policy.thresholds().stale_after
    by_state = {
        state.value: queries.job_state_q(state, now=now, stale_after=stale_after)
        for state in rules.JobState
    }
    row = JobHeartbeat.objects.aggregate(
        total=Count("pk"),
        stale=Count("pk", filter=queries.stale_q(now=now, stale_after=stale_after)),
        alerted=Count("pk", filter=Q(last_alert_at__gt=now - ALERTED_RECENTLY)),
        # A job that never ran has no heartbeat: its last_run_at is only its creation.
        most_recent=Max("last_run_at", filter=Q(n_runs__gt=0)),
        oldest=Min("last_run_at", filter=Q(n_runs__gt=0)),
        **{f"state_{name}": Count("pk", filter=q) for name, q in by_state.items()},
    )
    states = {name: row[f"state_{name}"] for name in by_state}
    return JobCounts(
        total=row["total"],
        healthy=states[rules.JobState.UP.value],
        stale=row["stale"],
        alerted_24h=row["alerted"],
        most_recent_heartbeat=row["most_recent"],
        oldest_heartbeat=row["oldest"],
        states=states,
    )


def checker_status(*, now: datetime) -> CheckerStatus:
    """Is the checker running on schedule and did its last run succeed?

    Only cron runs count: a manual or forced run must not hide a broken crontab.
    """
    last_run = check_runs.last_run(cron_only=True)
    deadline = None
    if last_run is not None:
        deadline = policy.checker_deadline(last_run.started_at)
    problem = checker_health.checker_problem(
        now=now,
        deadline=deadline,
        last_failed=last_run is not None and last_run.outcome == RunOutcome.FAILED,
    )
    return CheckerStatus(last_run=last_run, deadline=deadline, problem=problem)


def recent_runs(limit: int = RECENT_RUNS) -> list[CheckRun]:
    return list(CheckRun.objects.order_by("-started_at")[:limit])


def sent_problem_alerts(*, since: datetime, until: datetime) -> QuerySet[Alert]:
    """Problem alerts created in [since, until] that reached at least one channel."""
    delivered = AlertDelivery.objects.filter(alert=OuterRef("pk"), state=DeliveryState.SENT)
    return Alert.objects.filter(
        Exists(delivered), kind__in=PROBLEM_KINDS, created_at__gte=since, created_at__lte=until
    )


def window_metrics(name: str, *, now: datetime) -> WindowMetrics:
    """Alerts sent and suppressed, false positives and delivery failures over one window."""
    since = now - WINDOWS[name]
    recovered = PingEvent.objects.filter(
        job=OuterRef("job"),
        kind=EventKind.SUCCESS,
        created_at__gt=OuterRef("created_at"),
        created_at__lte=OuterRef("created_at") + policy.recovery_window(),
    )
    alerts = sent_problem_alerts(since=since, until=now).aggregate(
        sent=Count("pk"),
        jobs=Count("job", distinct=True),
        recovered=Count("job", distinct=True, filter=Exists(recovered)),
    )
    suppressed = suppressed_total(since=since, until=now)
    return WindowMetrics(
        name=name,
        since=since,
        alerts_sent=alerts["sent"],
        alerts_suppressed=suppressed,
        alerted_jobs=alerts["jobs"],
        recovered_jobs=alerts["recovered"],
        failures=delivery_failures(since=since, until=now),
    )


def delivery_failures(*, since: datetime, until: datetime) -> dict[str, ChannelFailures]:
    """Per channel name, deliveries created in the window that gave up, and that hit any
    error: the environment's two channels always, a database channel when it had any."""
    rows = (
        AlertDelivery.objects.filter(created_at__gte=since, created_at__lte=until)
        .values("channel")
        .annotate(
            failed=Count("pk", filter=Q(state__in=UNDELIVERED)),
            errored=Count("pk", filter=~Q(last_error="")),
        )
        .order_by()
    )
    found = {row["channel"]: ChannelFailures(row["failed"], row["errored"]) for row in rows}
    failures = {channel: found.pop(channel, ChannelFailures(0, 0)) for channel in ENV_CHANNELS}
    names = queries.channel_names(list(found)) if found else {}  # database channels, by name
    return failures | {names[key]: counts for key, counts in sorted(found.items())}


def daily_alerts(*, now: datetime, days: int = DAILY_DAYS) -> list[DayCount]:
    """The runbook's anti-spam analysis: per local calendar day of TIME_ZONE, oldest first.

    Days are cut at local midnight by the database, so a 23- or 25-hour DST day is one day.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=zone)
    rows = (
        sent_problem_alerts(since=start, until=now)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(alerts=Count("pk"), jobs=Count("job", distinct=True))
        .order_by()
    )
    found = {row["day"]: (row["alerts"], row["jobs"]) for row in rows}
    series = [first + timedelta(days=offset) for offset in range(days)]
    return [DayCount(day, *found.get(day, (0, 0))) for day in series]


def stale_jobs(*, now: datetime, limit: int = STALE_LIST_LIMIT) -> list[StaleJob]:
    """The stale jobs, most overdue first: ordered by their `rules.down_deadline`."""
    stale_after = policy.thresholds().stale_after
    jobs = (
        queries.stale_jobs(now=now, stale_after=stale_after)
        .annotate(deadline=queries.down_deadline(stale_after=stale_after))
        .order_by("deadline", "job_name")[:limit]
    )
    return [
        StaleJob(
            job_name=job.job_name,
            last_run_at=job.last_run_at if job.n_runs else None,
            due_at=job.due_at,
            overdue=now - rules.down_deadline(queries.job_facts(job), stale_after=stale_after),
            last_alert_at=job.last_alert_at,
            status=job.status,
            paused=job.paused,
        )
        for job in jobs
    ]


def summary(*, now: datetime, windows: list[str]) -> Summary:
    """Everything the summary page and /summary.json show."""
    return Summary(
        now=now,
        jobs=job_counts(now=now),
        checker=checker_status(now=now),
        recent_runs=recent_runs(),
        windows={name: window_metrics(name, now=now) for name in windows},
        daily=daily_alerts(now=now),
        stale_jobs=stale_jobs(now=now),
        broken_channels=queries.named(list(queries.broken_channels())),
        silenced_until=silence.silenced_until(now=now),
    )


def suppressed_total(*, since: datetime | None = None, until: datetime | None = None) -> int:
    """Alerts the anti-spam rule held back, summed over checker runs (dry runs excluded)."""
    runs = CheckRun.objects.filter(check_runs.COUNTED)
    if since is not None and until is not None:
        runs = runs.filter(started_at__gte=since, started_at__lte=until)
    return runs.aggregate(total=Coalesce(Sum("suppressed_alerts"), 0))["total"]
