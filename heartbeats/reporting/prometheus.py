"""The /metrics exposition, streamed so a scrape's memory does not grow with the job count.

`exposition` reads the counters and the checker's state before returning, so a database that
is down is answered with a 503 before any byte is sent; the per-job series then stream from a
server-side cursor, followed by the per-state totals added up on the way. The counters come
from `counters.totals` and never go down, whatever retention removes. Nothing is kept between
scrapes, so any number of web processes agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from django.db.models import BooleanField, Case, When
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from heartbeats.domain import policy, queries, rules
from heartbeats.models import JobHeartbeat
from heartbeats.reporting import counters, summary_figures

SERIES_PER_CHUNK = 1000


class _Families:
    """The collector interface `generate_latest` formats from, over metrics already made."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _text(*families: Metric) -> bytes:
    return generate_latest(_Families(families))


def _ages(chunk: list[JobReading], now: datetime, states: Counter) -> Metric:
    age = GaugeMetricFamily(
        "cronmonitor_job_seconds_since_heartbeat",
        "Seconds since each job's last heartbeat; absent for a job that never ran.",
        labels=["job"],
    )
    for reading in chunk:
        states[reading.state] += 1
        states["stale"] += reading.stale
        if reading.last_run_at is not None:
            age.add_metric([reading.job_name], (now - reading.last_run_at).total_seconds())
    return age


def _heartbeat_ages(now: datetime, states: Counter) -> Iterator[bytes]:
    """One gauge family written in chunks, its HELP and TYPE lines once; tallies the states."""
    readings = job_readings(now=now)
    yield _text(_ages(list(islice(readings, SERIES_PER_CHUNK)), now, states))
    while chunk := list(islice(readings, SERIES_PER_CHUNK)):
        yield _text(_ages(chunk, now, states)).split(b"\n", 2)[2]


def _job_totals(states: Counter) -> bytes:
    jobs = GaugeMetricFamily("cronmonitor_jobs", "Jobs by state.", labels=["state"])
    for state in rules.JobState:
        jobs.add_metric([state.value], states[state])
    stale = GaugeMetricFamily(
        "cronmonitor_stale_jobs",
        "Jobs past their deadline without a heartbeat.",
        value=states["stale"],
    )
    return _text(jobs, stale)


def _counters(totals: dict[counters.Key, int]) -> list[Metric]:
    sent = CounterMetricFamily(
        "cronmonitor_alerts_sent", "Problem alerts delivered, per channel.", labels=["channel"]
    )
    failed = CounterMetricFamily(
        "cronmonitor_alerts_failed",
        "Alert deliveries that gave up (failed or expired), per channel.",
        labels=["channel"],
    )
    keys = [label for metric, label in totals if metric == counters.SENT]
    names = queries.channel_names(keys)  # a database channel's label is its name
    for key in keys:
        sent.add_metric([names[key]], totals[(counters.SENT, key)])
        failed.add_metric([names[key]], totals[(counters.FAILED, key)])
    suppressed = CounterMetricFamily(
        "cronmonitor_alerts_suppressed",
        "Alerts the anti-spam rule held back, summed over checker runs.",
        value=totals[(counters.SUPPRESSED, "")],
    )
    return [sent, failed, suppressed]


def _checker(status: summary_figures.CheckerStatus, *, now: datetime) -> Sequence[Metric]:
    families = [
        GaugeMetricFamily(
            "cronmonitor_checker_ok",
            "1 when the checker runs on schedule and its last run succeeded, else 0.",
            value=int(status.problem is None),
        )
    ]
    if status.last_run is not None:
        families.append(
            GaugeMetricFamily(
                "cronmonitor_checker_seconds_since_last_run",
                "Seconds since the checker's last cron run started.",
                value=(now - status.last_run.started_at).total_seconds(),
            )
        )
    return families


def exposition(*, now: datetime) -> Iterator[bytes]:
    """The text exposition at `now`: the fixed figures are read here, the per-job series as
    the returned iterator is consumed."""
    fixed = _text(
        *_counters(counters.totals()), *_checker(summary_figures.checker_status(now=now), now=now)
    )

    def stream() -> Iterator[bytes]:
        states: Counter = Counter()
        yield from _heartbeat_ages(now, states)
        yield _job_totals(states)
        yield fixed

    return stream()


@dataclass(frozen=True)
class JobReading:
    job_name: str
    state: rules.JobState
    stale: bool
    last_run_at: datetime | None  # None: never ran


def job_readings(*, now: datetime) -> Iterator[JobReading]:
    """Every job's state, by `queries.with_job_state` (the SQL twin of `rules.job_state`): one
    query read in chunks, so memory stays flat however many jobs there are."""
    stale_after = policy.thresholds().stale_after
    jobs = queries.with_job_state(JobHeartbeat.objects.all(), now=now, stale_after=stale_after)
    rows = jobs.annotate(
        stale=Case(
            When(queries.stale_q(now=now, stale_after=stale_after), then=True),
            default=False,
            output_field=BooleanField(),
        )
    ).order_by("job_name")
    for job_name, state, stale, last_run_at, n_runs in rows.values_list(
        "job_name", "job_state", "stale", "last_run_at", "n_runs"
    ).iterator(chunk_size=2000):
        yield JobReading(
            job_name=job_name,
            state=rules.JobState(state),
            stale=stale,
            last_run_at=last_run_at if n_runs else None,
        )
